// Command webshell is the Firebreak module that finds webshells and
// tampered pages among a target's web files (PHP, JSP, ASP, ASPX, ASHX,
// HTML). It scores each file with the host's native multi-pattern matcher
// (sdk.CompilePatterns), never scanning bytes itself: a line on which
// request data reaches an evaluator or a command, an obfuscation layer
// around an evaluator, the markers of known families (China Chopper,
// Behinder/冰蝎, Godzilla/哥斯拉, AntSword, b374k, c99, r57, WSO, ...), and the
// hidden links (暗链) and invisible iframes or scripts of a defaced page
// (挂马); and, for review, a web file changed long after the other files of
// its directory. It must never alert on a file for a single ordinary
// construct that legitimate applications use (an upload handler, a file
// editor, popen).
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o webshell.wasm .
package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(&shell{}) }

// Signature IDs.
const (
	sidRequestEval = 1006001 // request data reaches an evaluator or a command on one line
	sidFamily      = 1006002 // the marker of a known webshell family
	sidObfuscated  = 1006003 // an evaluator behind an obfuscation layer
	sidTampered    = 1006004 // hidden links or an invisible iframe/script in a page
	sidScore       = 1006005 // several weaker indicators together
	sidOutlier     = 1006006 // a web file changed long after its neighbours
)

// A web file modified more than Outlier after the median of its
// directory (of at least MinNeighbours web files, of which it is one of
// the few so changed) is reported for review.
const (
	Outlier       = 7 * 24 * time.Hour
	MinNeighbours = 5
)

// webExt are the extensions the module reads.
var webExt = []string{".php", ".php3", ".php4", ".php5", ".phtml", ".inc", ".jsp", ".jspx", ".asp", ".aspx", ".ashx", ".asmx", ".cer", ".cfm", ".html", ".htm", ".shtml", ".js"}

// Line-level sources (request data) and sinks (evaluators, commands,
// class loaders): both on one line is a request-to-eval path.
var sources = []string{
	"$_post", "$_get", "$_request", "$_cookie", "$_server['http_", "php://input", "getallheaders(",
	"request.getparameter", "request.getinputstream", "request.getreader", "request.item", "request.form",
	"request.querystring", "request(\"", "request.binaryread", "request.cookies", "request[\"", "request.getheader",
	"file_get_contents($remote", "file_get_contents('http", "file_get_contents(\"http",
}

var sinks = []string{
	"eval(", "eval (", "assert(", "assert (", "execute(", "executeglobal(", "create_function(", "call_user_func(",
	"preg_replace(\"/.*/e", "preg_replace('/.*/e", "system(", "shell_exec(", "passthru(", "proc_open(", " exec(",
	"@exec(", "popen(", "getruntime().exec(", "processbuilder(", "process.start(", "defineclass(", "assembly.load(",
	"${eval", "$exp(", "$ant(", "$c(", "$func(", "eval request",
}

// Whole-file markers, with their weight; 10 or more is a finding.
type marker struct {
	p      string
	weight int
	family string // set for family markers
	sid    uint32
}

var markers = []marker{
	// Families (their own banners, default keys and passwords).
	{"b374k", 10, "b374k", sidFamily},
	{"c99shell", 10, "c99", sidFamily},
	{"c99sh_", 10, "c99", sidFamily},
	{"locus7s", 10, "c99", sidFamily},
	{"r57shell", 10, "r57", sidFamily},
	{"r57 shell", 10, "r57", sidFamily},
	{"ironshell", 10, "ironshell", sidFamily},
	{"ani shell", 10, "ani-shell", sidFamily},
	{"lionaneesh", 10, "ani-shell", sidFamily},
	{"jspspy", 10, "jspspy", sidFamily},
	{"aspxspy", 10, "aspxspy", sidFamily},
	{"antak", 6, "antak", sidFamily},
	{"web shell by oliver", 10, "wso", sidFamily},
	{"wso ", 4, "wso", sidFamily},
	{"e45e329feb5d925b", 10, "behinder", sidFamily}, // Behinder's default key
	{"202cb962ac59075b", 8, "godzilla", sidFamily},  // Godzilla's default key, md5("123")
	{"yxnzzxj0", 10, "antsword", sidFamily},         // base64 "assert"
	{"qgv2ywwo", 10, "antsword", sidFamily},         // base64 "@eval("
	{"zxzhbcg", 10, "", sidObfuscated},              // base64 "eval("
	// Obfuscation layers around evaluators.
	{"eval(base64_decode", 10, "", sidObfuscated},
	{"eval(gzinflate", 10, "", sidObfuscated},
	{"eval(gzuncompress", 10, "", sidObfuscated},
	{"eval(str_rot13", 10, "", sidObfuscated},
	{"eval(strrev", 10, "", sidObfuscated},
	{"assert(base64_decode", 10, "", sidObfuscated},
	{"\"cr\".\"eat\"", 10, "", sidObfuscated},
	{"'ev'.'al'", 10, "", sidObfuscated},
	{"\"as\".\"sert\"", 10, "", sidObfuscated},
	{".\"sert\"", 8, "", sidObfuscated},
	{"strrev($_", 6, "", sidObfuscated},
	{"'^chr(", 5, "", sidObfuscated},
	{"base64_decode($_", 8, "", sidObfuscated},
	{"unlink($_server['script_filename'])", 6, "", sidObfuscated},
	{"ignore_user_abort(", 2, "", sidScore},
	{"set_time_limit(0)", 1, "", sidScore},
	{"@error_reporting(0)", 2, "", sidScore},
	{"error_reporting(0)", 1, "", sidScore},
	// Class loading of request bytes (Behinder, Godzilla in JSP and .NET).
	{"extends classloader", 4, "", sidScore},
	{".defineclass(", 3, "", sidScore},
	{"cipher.getinstance(\"aes", 3, "", sidScore},
	{"rijndaelmanaged", 3, "", sidScore},
	{"assembly.load(", 4, "", sidScore},
	{"createinstance(\"", 3, "", sidScore},
	{"frombase64string(", 2, "", sidScore},
	{"request.binaryread(", 4, "", sidScore},
	{"session.putvalue(", 2, "", sidScore},
	// Commands.
	{"cmd.exe", 4, "", sidScore},
	{"/bin/sh", 3, "", sidScore},
	{"/bin/bash", 3, "", sidScore},
	{"processstartinfo", 4, "", sidScore},
	{"getruntime().exec(", 4, "", sidScore},
	{"powershell.exe", 4, "", sidScore},
	{"shell_exec(", 3, "", sidScore},
	{"passthru(", 3, "", sidScore},
	{"posix_getpwuid(", 2, "", sidScore},
	{"uname -a", 3, "", sidScore},
	{"netstat -an", 3, "", sidScore},
	{"safe_mode", 2, "", sidScore},
	{"disable_functions", 2, "", sidScore},
	{"move_uploaded_file(", 1, "", sidScore},
	{"getprocesses(", 3, "", sidScore},
	{"redirectstandardoutput", 2, "", sidScore},
	{"execute(", 3, "", sidScore},
	{"xor asc(mid(", 4, "", sidObfuscated},
	{"request.getparameter(", 3, "", sidScore},
	{"request.getparameter(\"z0\")", 8, "china_chopper", sidFamily}, // Chopper's protocol
	{"processbuilder(", 5, "", sidScore},
	{"new string(new byte[]", 5, "", sidObfuscated},
	{"new string(new byte[] {", 5, "", sidObfuscated},
	{".getmethod(new string(", 4, "", sidObfuscated}, // reflection on a hidden method name
	{"@eval($", 4, "", sidScore},
	{"@eval(\"", 5, "", sidScore},
	{"trim($_post[", 5, "", sidScore},
}

// Tampered pages: hidden spam links and invisible frames or scripts.
var tampered = []string{
	"<div style=\"display:none\"><a href", "<div style=\"position:absolute;top:-", "<div style=\"display: none\"><a href",
	"<iframe src=\"http", "width=\"0\" height=\"0\"", "width=0 height=0", "document.write(unescape(",
	"eval(function(p,a,c,k,e,", "<marquee style=\"display:none", "visibility:hidden\"><a href",
}

type shell struct {
	srcSet, sinkSet, markSet, tamperSet sdk.Patterns
	hits                                []uint32
	dirs                                map[string][]webFile // directory → its web files
	files                               int
}

type webFile struct {
	path    string
	mtime   int64
	flagged bool
}

func (s *shell) Init([]byte) error {
	var err error
	if s.srcSet, err = sdk.CompilePatterns(sources, sdk.MatchFold); err != nil {
		return fmt.Errorf("source patterns: %w", err)
	}
	if s.sinkSet, err = sdk.CompilePatterns(sinks, sdk.MatchFold); err != nil {
		return fmt.Errorf("sink patterns: %w", err)
	}
	ms := make([]string, len(markers))
	for i, m := range markers {
		ms[i] = m.p
	}
	if s.markSet, err = sdk.CompilePatterns(ms, sdk.MatchFold); err != nil {
		return fmt.Errorf("marker patterns: %w", err)
	}
	if s.tamperSet, err = sdk.CompilePatterns(tampered, sdk.MatchFold); err != nil {
		return fmt.Errorf("tampering patterns: %w", err)
	}
	s.hits = make([]uint32, 0, 256)
	s.dirs = map[string][]webFile{}
	return nil
}

func (s *shell) Batch(sdk.Batch) error { return nil }

// Flush reports the web files changed unlike their neighbours.
func (s *shell) Flush() error {
	dirs := make([]string, 0, len(s.dirs))
	for d := range s.dirs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		fs := s.dirs[d]
		if len(fs) < MinNeighbours {
			continue
		}
		times := make([]int64, len(fs))
		for i, f := range fs {
			times[i] = f.mtime
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		median := times[len(times)/2]
		var out []webFile
		for _, f := range fs {
			if !f.flagged && f.mtime-median > int64(Outlier) {
				out = append(out, f)
			}
		}
		if len(out) == 0 || len(out)*5 > len(fs) { // many changed together: an update, not a plant
			continue
		}
		for _, f := range out {
			days := (f.mtime - median) / int64(24*time.Hour)
			a := sdk.Alert{Signature: fmt.Sprintf("FIREBREAK webshell: %s changed %d days after the other files of its directory", f.path, days),
				Category: "Web Shell", Severity: 3, SignatureID: sidOutlier, Techniques: []string{"T1505.003"}, Time: f.mtime,
				Metadata: []string{"path=" + f.path, "neighbours=" + fmt.Sprint(len(fs)-1)}}
			if err := sdk.EmitAlert(&a); err != nil {
				return err
			}
		}
	}
	s.dirs = map[string][]webFile{}
	return nil
}

func web(path string) bool {
	p := strings.ToLower(path)
	for _, e := range webExt {
		if strings.HasSuffix(p, e) {
			return true
		}
	}
	return false
}

// File scores one file.
func (s *shell) File(f sdk.Event, content []byte) error {
	path := f.Str(sdk.FieldPath)
	if !web(path) || len(content) == 0 {
		return nil
	}
	v := s.verdict(content)
	if mt := int64(f.Uint(sdk.FieldMTime)); mt > 0 && s.files < 200000 {
		p := strings.Clone(path) // kept past the call: the buffer is reused
		d := p[:strings.LastIndexByte(p, '/')+1]
		s.dirs[d] = append(s.dirs[d], webFile{path: p, mtime: mt, flagged: v.sid != 0})
		s.files++
	}
	if v.sid == 0 {
		return nil
	}
	a := sdk.Alert{Signature: "FIREBREAK webshell: " + v.what + " in " + path, Category: "Web Shell",
		Severity: v.severity, SignatureID: v.sid, Techniques: []string{v.technique}, Time: f.Time(),
		Metadata: []string{"path=" + path, "score=" + fmt.Sprint(v.score)}}
	if v.family != "" {
		a.Metadata = append(a.Metadata, "family="+v.family)
	}
	for _, e := range v.evidence {
		a.Metadata = append(a.Metadata, "indicator="+e)
	}
	return sdk.EmitAlert(&a)
}

type verdict struct {
	sid       uint32
	what      string
	family    string
	severity  int
	score     int
	technique string
	evidence  []string
}

func (s *shell) verdict(content []byte) verdict {
	var v verdict
	v.technique = "T1505.003"
	// Request data reaching an evaluator on one line (a statement: ; ends
	// one too, so a minified file is not one long line).
	for line := range lines(content) {
		src := s.srcSet.Match(line, s.hits[:0])
		if len(src) == 0 {
			continue
		}
		srcName := sources[src[0]]
		sk := s.sinkSet.Match(line, s.hits[:0])
		if len(sk) > 0 {
			v.sid, v.what, v.score, v.severity = sidRequestEval, "request data ("+srcName+") reaches "+strings.TrimSpace(sinks[sk[0]]), 10, 1
			v.evidence = append(v.evidence, srcName+" "+sinks[sk[0]])
			break
		}
	}
	score := 0
	strongest := 0
	for _, i := range s.markSet.Match(content, s.hits[:0]) {
		m := markers[i]
		score += m.weight
		v.evidence = append(v.evidence, m.p)
		if m.family != "" && v.family == "" && m.weight >= 8 {
			v.family = m.family
		}
		if m.weight > strongest && v.sid != sidRequestEval {
			strongest = m.weight
			v.sid = m.sid
		}
	}
	if v.sid == sidRequestEval {
		v.score += score
		return v
	}
	if score >= 10 {
		v.score, v.severity = score, 1
		switch v.sid {
		case sidFamily:
			v.what = "known family " + v.family
			if v.family == "" {
				v.sid, v.what = sidScore, "several webshell indicators"
			}
		case sidObfuscated:
			v.what = "an evaluator behind an obfuscation layer"
		default:
			v.sid, v.what = sidScore, "several webshell indicators"
		}
		if v.family != "" && v.sid != sidFamily {
			v.what += " (" + v.family + ")"
		}
		return v
	}
	if t := s.tamperSet.Match(content, s.hits[:0]); len(t) > 0 {
		return verdict{sid: sidTampered, what: "tampered page (" + tampered[t[0]] + ")", severity: 2, score: 10,
			technique: "T1189", evidence: []string{tampered[t[0]]}}
	}
	return verdict{}
}

// lines yields the statements of content: split at newlines and at ';'.
func lines(content []byte) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		start := 0
		for i, c := range content {
			if c == '\n' || c == ';' || c == '\r' {
				if i > start && !yield(content[start:i]) {
					return
				}
				start = i + 1
			}
		}
		if start < len(content) {
			yield(content[start:])
		}
	}
}
