package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/firebreak-ir/firebreak/appliance/internal/api"
	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// caseSub is one `firebreak case` subcommand.
type caseSub struct {
	usage, help string
	run         func(f *flags, args []string) error
}

var caseSubs map[string]caseSub

func init() {
	caseSubs = map[string]caseSub{
		"new":       {"case new --title TEXT [intake flags]", "Open a case and print its ID.", caseNew},
		"list":      {"case list", "List the cases on this appliance, newest first.", caseList},
		"show":      {"case show ID", "Show a case: intake, classification, phase, SLA timers, notes, tasks.", caseShow},
		"log":       {"case log ID [--after SEQ]", "Print a case's journal: the timeline and audit trail.", caseLog},
		"intake":    {"case intake ID [intake flags]", "Replace a case's intake with the flags given.", caseIntake},
		"note":      {"case note ID TEXT", "Add a note to a case.", caseNote},
		"phase":     {"case phase ID PHASE [--reason TEXT]", "Move a case to a phase: " + phaseList() + ".", casePhase},
		"close":     {"case close ID --reason TEXT", "Close a case.", caseClose},
		"reopen":    {"case reopen ID --reason TEXT", "Reopen a closed case at the phase it was closed from.", caseReopen},
		"classify":  {"case classify ID --category C --importance I --loss L --impact M [--override LEVEL --reason TEXT]", "Classify and grade a case per GB/T 20986-2023; the level is derived from the three factors.", caseClassify},
		"assets":    {"case assets import ID FILE.csv [--merge]", "Import the customer's asset list from CSV (- reads stdin).", caseAssets},
		"task":      {"case task add ID TITLE [--assignee NAME] | case task done ID TASK", "Add a task to a case, or mark one done.", caseTask},
		"join":      {"case join ID ENGINEER [--role lead|member]", "Put an engineer on a case.", caseJoin},
		"milestone": {"case milestone ID MILESTONE [--at TIME]", "Record an SLA milestone: responded, on_site, contained, report_delivered.", caseMilestone},
		"sla":       {"case sla ID [--responded D] [--on-site D] [--contained D] [--report D] [--reason TEXT]", "Set a case's SLA targets, durations from the request (e.g. 30m, 2h, 48h).", caseSLA},
		"verify":    {"case verify ID", "Re-walk a case's hash chain; fails and names the first bad entry.", caseVerify},
		"findings":  {"case findings ID [--module NAME] [--source analysis|live|triage]", "List what the detection modules found on a case.", caseFindings},
	}
}

func phaseList() string {
	var s []string
	for _, p := range cases.Phases() {
		s = append(s, string(p))
	}
	return strings.Join(s, ", ")
}

func runCase(e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.stdout, "Usage: firebreak case SUBCOMMAND [flags]\n\nSubcommands:")
		names := make([]string, 0, len(caseSubs))
		for n := range caseSubs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(e.stdout, "  %-10s %s\n", n, caseSubs[n].help)
		}
		if len(args) == 0 {
			return usagef("missing subcommand")
		}
		return nil
	}
	sub, ok := caseSubs[args[0]]
	if !ok {
		return usagef("unknown subcommand %q (see firebreak case --help)", args[0])
	}
	f := e.newFlags("case "+args[0], sub.usage, sub.help).clientFlags()
	return sub.run(f, args[1:])
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// caseView is what the API returns for a case.
type caseView struct {
	cases.Case
	Timers []cases.Timer `json:"sla_timers"`
}

// intakeFlags adds the intake flags to f; the returned function builds the
// intake after parsing.
func intakeFlags(f *flags) func() (cases.Intake, error) {
	var (
		rep                                cases.Contact
		discovered, reported, other, descr string
		symptoms, affected, contacts       multiFlag
	)
	f.StringVar(&rep.Name, "reporter", "", "who reported the incident")
	f.StringVar(&rep.Org, "reporter-org", "", "the reporter's organisation")
	f.StringVar(&rep.Phone, "reporter-phone", "", "the reporter's phone")
	f.StringVar(&rep.Email, "reporter-email", "", "the reporter's email")
	f.Var(&contacts, "contact", "another contact, as NAME[,PHONE[,EMAIL]] (repeatable)")
	f.StringVar(&discovered, "discovered", "", "when the customer noticed (RFC 3339, or YYYY-MM-DD HH:MM local)")
	f.StringVar(&reported, "reported", "", "when the request for help came in; the SLA clock starts here (default: now)")
	f.Var(&symptoms, "symptom", "a reported symptom (repeatable): "+symptomList())
	f.StringVar(&other, "symptom-other", "", "free text for the symptom 'other'")
	f.Var(&affected, "affected", "an affected system as the customer names it (repeatable)")
	f.StringVar(&descr, "description", "", "what the customer described")
	return func() (cases.Intake, error) {
		in := cases.Intake{Reporter: rep, SymptomsOther: other, AffectedSystems: affected, Description: descr}
		for _, c := range contacts {
			p := strings.SplitN(c, ",", 3)
			ct := cases.Contact{Name: strings.TrimSpace(p[0])}
			if len(p) > 1 {
				ct.Phone = strings.TrimSpace(p[1])
			}
			if len(p) > 2 {
				ct.Email = strings.TrimSpace(p[2])
			}
			in.Contacts = append(in.Contacts, ct)
		}
		for _, s := range symptoms {
			in.Symptoms = append(in.Symptoms, cases.Symptom(s))
		}
		var err error
		if in.DiscoveredAt, err = parseTime("--discovered", discovered); err != nil {
			return in, err
		}
		in.ReportedAt, err = parseTime("--reported", reported)
		return in, err
	}
}

func symptomList() string {
	var s []string
	for _, x := range cases.Symptoms() {
		s = append(s, string(x))
	}
	return strings.Join(s, ", ")
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func parseTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if v == "now" {
		return time.Now().UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		loc := time.Local
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usagef("%s %q: want RFC 3339 (2026-11-24T09:30:00+08:00) or YYYY-MM-DD HH:MM", name, v)
}

func caseNew(f *flags, args []string) error {
	title := f.String("title", "", "a short title (required)")
	intake := intakeFlags(f)
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	if *title == "" {
		return usagef("--title is required")
	}
	in, err := intake()
	if err != nil {
		return err
	}
	var c caseView
	if err := f.client().call("POST", "/cases", cases.OpenRequest{Title: *title, Intake: in}, &c); err != nil {
		return err
	}
	if f.json {
		return printJSON(f.e.stdout, c)
	}
	fmt.Fprintln(f.e.stdout, c.ID)
	return nil
}

func caseIntake(f *flags, args []string) error {
	intake := intakeFlags(f)
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	in, err := intake()
	if err != nil {
		return err
	}
	return f.command(pos[0], "intake", in)
}

// command posts a case command and prints the case (with --json) or
// nothing.
func (f *flags) command(id, name string, body any) error {
	var c caseView
	if err := f.client().call("POST", "/cases/"+id+"/"+name, body, &c); err != nil {
		return err
	}
	if f.json {
		return printJSON(f.e.stdout, c)
	}
	return nil
}

func caseList(f *flags, args []string) error {
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	var list []casebook.Summary
	if err := f.client().call("GET", "/cases", nil, &list); err != nil {
		return err
	}
	if f.json {
		return printJSON(f.e.stdout, list)
	}
	tw := tabwriter.NewWriter(f.e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPHASE\tLEVEL\tOPENED\tTITLE")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.Phase, dash(s.Level), s.Opened.Local().Format("2006-01-02 15:04"), s.Title)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func caseShow(f *flags, args []string) error {
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	var c caseView
	if err := f.client().call("GET", "/cases/"+pos[0], nil, &c); err != nil {
		return err
	}
	if f.json {
		return printJSON(f.e.stdout, c)
	}
	w := f.e.stdout
	fmt.Fprintf(w, "%s  %s\n", c.ID, c.Title)
	fmt.Fprintf(w, "phase:    %s (%s)\n", c.Phase, c.Phase.Label().In("zh"))
	fmt.Fprintf(w, "opened:   %s by %s\n", c.CreatedAt.Local().Format(time.RFC3339), c.CreatedBy)
	if c.Intake.Reporter.Name != "" {
		fmt.Fprintf(w, "reporter: %s %s %s %s\n", c.Intake.Reporter.Name, c.Intake.Reporter.Org, c.Intake.Reporter.Phone, c.Intake.Reporter.Email)
	}
	for _, s := range c.Intake.Symptoms {
		fmt.Fprintf(w, "symptom:  %s\n", s.Label().In("en"))
	}
	for _, a := range c.Intake.AffectedSystems {
		fmt.Fprintf(w, "affected: %s\n", a)
	}
	if cl := c.Classification; cl != nil {
		fmt.Fprintf(w, "class:    %s / level %s (%s)\n", cl.Category.Label().In("en"), cl.Level, cl.Level.Label().In("zh"))
		fmt.Fprintf(w, "          %s\n", cl.Rationale.In("en"))
		if cl.Override != nil {
			fmt.Fprintf(w, "          overridden from %s: %s\n", cl.Derived, cl.Override.Reason)
		}
	}
	if len(c.Assets) > 0 {
		fmt.Fprintf(w, "assets:   %d on the customer's list\n", len(c.Assets))
	}
	for _, t := range c.Timers {
		fmt.Fprintf(w, "sla:      %-17s %s\n", t.Milestone, timerText(t))
	}
	for _, e := range c.Engineers {
		if e.Active {
			fmt.Fprintf(w, "engineer: %s (%s)\n", e.Name, e.Role)
		}
	}
	for _, t := range c.Tasks {
		fmt.Fprintf(w, "task %d:   [%s] %s %s\n", t.ID, t.Status, t.Title, t.Assignee)
	}
	for _, n := range c.Notes {
		fmt.Fprintf(w, "note:     %s %s: %s\n", n.At.Local().Format("2006-01-02 15:04"), n.Actor, n.Text)
	}
	fmt.Fprintf(w, "journal:  %d entries, head %s\n", c.LastSeq, c.HeadHash)
	return nil
}

func timerText(t cases.Timer) string {
	due := t.Due.Local().Format("2006-01-02 15:04")
	short := func(d cases.Duration) string { return time.Duration(d).Round(time.Minute).String() }
	switch t.State {
	case cases.TimerMet:
		return "met " + t.MetAt.Local().Format("2006-01-02 15:04")
	case cases.TimerMetLate:
		return fmt.Sprintf("met %s, %s late", t.MetAt.Local().Format("2006-01-02 15:04"), short(t.Late))
	case cases.TimerPending:
		return fmt.Sprintf("due %s, %s left", due, short(t.Left))
	case cases.TimerBreached:
		return fmt.Sprintf("BREACHED: due %s, %s ago", due, short(t.Late))
	}
	return string(t.State)
}

func caseLog(f *flags, args []string) error {
	after := f.Uint64("after", 0, "print entries after this sequence number")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	var es []journal.Entry
	if err := f.client().call("GET", fmt.Sprintf("/cases/%s/journal?after=%d&limit=10000", pos[0], *after), nil, &es); err != nil {
		return err
	}
	if f.json {
		return printJSON(f.e.stdout, es)
	}
	for _, e := range es {
		fmt.Fprintf(f.e.stdout, "%5d  %s  %-20s %-22s %s\n", e.Seq, e.Time.Format(time.RFC3339Nano), e.Type, e.Actor, e.Payload)
	}
	return nil
}

func caseFindings(f *flags, args []string) error {
	module := f.String("module", "", "only this module's findings")
	source := f.String("source", "", "only findings of analyses, live traffic or triage")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	q := url.Values{}
	if *module != "" {
		q.Set("module", *module)
	}
	if *source != "" {
		q.Set("source", *source)
	}
	var fs []cases.FindingRecord
	if err := f.client().call("GET", "/cases/"+url.PathEscape(pos[0])+"/findings?"+q.Encode(), nil, &fs); err != nil {
		return err
	}
	if f.json {
		return printJSON(f.e.stdout, fs)
	}
	tw := tabwriter.NewWriter(f.e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEV\tMODULE\tSIGNATURE\tFROM\tTO\tCOUNT\tFIRST SEEN\tTECHNIQUES")
	for _, x := range fs {
		from, to := endpoint(x.Src, x.SrcPort), endpoint(x.Dst, x.DstPort)
		if x.Host != "" {
			from, to = x.Host, x.Path
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", x.ID, x.Severity, x.Module, cell(x.Signature, 60), from, to, x.Count,
			x.Time.UTC().Format(time.RFC3339), strings.Join(x.Techniques, ","))
	}
	return tw.Flush()
}

func endpoint(ip string, port uint16) string {
	if port == 0 {
		return ip
	}
	return net.JoinHostPort(ip, strconv.Itoa(int(port)))
}

// cell keeps text from the traffic to one line of a table, at most n runes,
// with control characters (terminal escapes too) made blanks.
func cell(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}

func caseNote(f *flags, args []string) error {
	pos, err := f.parse(args, 2, 2)
	if err != nil {
		return err
	}
	return f.command(pos[0], "notes", cases.NoteRequest{Text: pos[1]})
}

func casePhase(f *flags, args []string) error {
	reason := f.String("reason", "", "why (required to go back a phase or for not_incident)")
	pos, err := f.parse(args, 2, 2)
	if err != nil {
		return err
	}
	return f.command(pos[0], "phase", cases.PhaseRequest{To: cases.Phase(pos[1]), Reason: *reason})
}

func caseClose(f *flags, args []string) error {
	reason := f.String("reason", "", "why the case is closed")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	return f.command(pos[0], "phase", cases.PhaseRequest{To: cases.PhaseClosed, Reason: *reason})
}

func caseReopen(f *flags, args []string) error {
	reason := f.String("reason", "", "why the case is reopened (required)")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	return f.command(pos[0], "reopen", map[string]string{"reason": *reason})
}

func caseClassify(f *flags, args []string) error {
	var r cases.ClassifyRequest
	f.StringVar((*string)(&r.Category), "category", "", "GB/T 20986-2023 category, e.g. malware, network_attack, data_security")
	f.StringVar(&r.Subcategory, "subcategory", "", "subcategory, e.g. trojan, web_defacement")
	f.StringVar((*string)(&r.Importance), "importance", "", "importance of the affected object: critical, important, ordinary")
	f.StringVar((*string)(&r.Loss), "loss", "", "system loss: extreme, serious, considerable, minor")
	f.StringVar((*string)(&r.Impact), "impact", "", "social impact: extraordinary, major, considerable, ordinary")
	f.StringVar((*string)(&r.OverrideLevel), "override", "", "override the derived level: I, II, III or IV (needs --reason)")
	f.StringVar(&r.OverrideReason, "reason", "", "why the level is overridden")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	var c caseView
	if err := f.client().call("POST", "/cases/"+pos[0]+"/classify", r, &c); err != nil {
		return err
	}
	if f.json {
		return printJSON(f.e.stdout, c)
	}
	cl := c.Classification
	fmt.Fprintf(f.e.stdout, "level %s (%s): %s\n", cl.Level, cl.Level.Label().In("zh"), cl.Rationale.In("en"))
	return nil
}

func caseAssets(f *flags, args []string) error {
	merge := f.Bool("merge", false, "merge with the current list instead of replacing it")
	pos, err := f.parse(args, 3, 3)
	if err != nil {
		return err
	}
	if pos[0] != "import" {
		return usagef("unknown subcommand %q (want: case assets import ID FILE.csv)", pos[0])
	}
	var in io.Reader = os.Stdin
	if pos[2] != "-" {
		fh, err := os.Open(pos[2])
		if err != nil {
			return err
		}
		defer fh.Close()
		in = fh
	}
	mode := "replace"
	if *merge {
		mode = "merge"
	}
	var c caseView
	path := fmt.Sprintf("/cases/%s/assets?mode=%s&source=%s", pos[1], mode, urlQuery(pos[2]))
	if err := f.client().upload(path, "text/csv", in, &c); err != nil {
		return err
	}
	if f.json {
		return printJSON(f.e.stdout, c)
	}
	fmt.Fprintf(f.e.stdout, "%d assets on %s\n", len(c.Assets), c.ID)
	return nil
}

func caseTask(f *flags, args []string) error {
	assignee := f.String("assignee", "", "who does it")
	pos, err := f.parse(args, 3, 3)
	if err != nil {
		return err
	}
	switch pos[0] {
	case "add":
		return f.command(pos[1], "tasks", cases.TaskRequest{Title: pos[2], Assignee: *assignee})
	case "done":
		var id uint64
		if _, err := fmt.Sscan(pos[2], &id); err != nil {
			return usagef("task %q: want a task number", pos[2])
		}
		done := cases.TaskDone
		return f.command(pos[1], "task", cases.UpdateTaskRequest{ID: id, Status: &done})
	}
	return usagef("unknown subcommand %q (want add or done)", pos[0])
}

func caseJoin(f *flags, args []string) error {
	role := f.String("role", "member", "lead or member")
	pos, err := f.parse(args, 2, 2)
	if err != nil {
		return err
	}
	return f.command(pos[0], "join", cases.JoinRequest{Engineer: pos[1], Role: cases.Role(*role)})
}

func caseMilestone(f *flags, args []string) error {
	at := f.String("at", "", "when it was reached (default now)")
	pos, err := f.parse(args, 2, 2)
	if err != nil {
		return err
	}
	t, err := parseTime("--at", *at)
	if err != nil {
		return err
	}
	return f.command(pos[0], "milestone", cases.MilestoneRequest{Milestone: cases.Milestone(pos[1]), At: t})
}

func caseVerify(f *flags, args []string) error {
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	var v api.Verification
	if err := f.client().call("GET", "/cases/"+pos[0]+"/verify", nil, &v); err != nil {
		return err
	}
	if f.json {
		if err := printJSON(f.e.stdout, v); err != nil {
			return err
		}
	}
	if !v.OK {
		return fmt.Errorf("%s: chain broken at entry %d (%s): %s", v.Case, v.Problem.Seq, v.Problem.Kind, v.Problem.Detail)
	}
	if !f.json {
		fmt.Fprintf(f.e.stdout, "%s: chain verified, %d entries, head %s\n", v.Case, v.Entries, v.Head)
	}
	return nil
}

func caseSLA(f *flags, args []string) error {
	var r cases.SLATargetsRequest
	durs := map[string]**cases.Duration{"responded": &r.Responded, "on-site": &r.OnSite, "contained": &r.Contained, "report": &r.ReportDelivered}
	vals := map[string]*string{}
	for name := range durs {
		vals[name] = f.String(name, "", "target for "+name+", from the request")
	}
	f.StringVar(&r.Reason, "reason", "", "why the targets change")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	for name, v := range vals {
		if *v == "" {
			continue
		}
		d, err := time.ParseDuration(*v)
		if err != nil {
			return usagef("--%s %q: want a duration such as 30m or 4h", name, *v)
		}
		cd := cases.Duration(d)
		*durs[name] = &cd
	}
	return f.command(pos[0], "sla", r)
}
