package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/sys/unix"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
)

// passwordInput is where account passwords are read from: a terminal is
// prompted without echo, anything else gives the first line. Never argv.
var passwordInput io.Reader = os.Stdin

func runAccount(e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stdout, "Usage: firebreak account add NAME [--role admin|responder|viewer]\n"+
			"       firebreak account list\n       firebreak account passwd NAME\n"+
			"       firebreak account disable NAME | enable NAME | remove NAME\n\n"+
			"Accounts are the engineers who log in to the web console. The password is read\n"+
			"from the terminal (asked twice, not echoed) or the first line of stdin, never\n"+
			"from the command line; the appliance keeps only its argon2id hash. Disabling,\n"+
			"removing or changing the password of an account ends its console sessions.\n")
		if len(args) == 0 {
			return usagef("missing subcommand")
		}
		return nil
	}
	switch args[0] {
	case "add":
		f := e.newFlags("account add", "account add NAME [--role ROLE]", "Add a console account; the password comes from the terminal or stdin.").clientFlags()
		role := f.String("role", "responder", "admin, responder or viewer")
		pos, err := f.parse(args[1:], 1, 1)
		if err != nil {
			return err
		}
		if !auth.Role(*role).Valid() {
			return usagef("--role must be admin, responder or viewer")
		}
		pw, err := readPassword(e, pos[0])
		if err != nil {
			return err
		}
		var acc auth.Account
		if err := f.client().call("POST", "/accounts", map[string]string{"name": pos[0], "role": *role, "password": string(pw)}, &acc); err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, acc)
		}
		fmt.Fprintf(e.stdout, "account %s added, role %s\n", acc.Name, acc.Role)
		return nil
	case "passwd":
		f := e.newFlags("account passwd", "account passwd NAME", "Set a console account's password; it comes from the terminal or stdin.").clientFlags()
		pos, err := f.parse(args[1:], 1, 1)
		if err != nil {
			return err
		}
		pw, err := readPassword(e, pos[0])
		if err != nil {
			return err
		}
		return f.client().call("POST", "/accounts/"+urlPath(pos[0])+"/password", map[string]string{"password": string(pw)}, nil)
	case "list":
		f := e.newFlags("account list", "account list", "List console accounts.").clientFlags()
		if _, err := f.parse(args[1:], 0, 0); err != nil {
			return err
		}
		var accs []auth.Account
		if err := f.client().call("GET", "/accounts", nil, &accs); err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, accs)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tCREATED\tBY")
		for _, a := range accs {
			state := "enabled"
			if a.Disabled {
				state = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Name, a.Role, state, a.Created.Format("2006-01-02 15:04Z07:00"), a.CreatedBy)
		}
		return tw.Flush()
	case "disable", "enable", "remove":
		f := e.newFlags("account "+args[0], "account "+args[0]+" NAME", strings.ToUpper(args[0][:1])+args[0][1:]+" a console account.").clientFlags()
		pos, err := f.parse(args[1:], 1, 1)
		if err != nil {
			return err
		}
		if args[0] == "remove" {
			return f.client().call("DELETE", "/accounts/"+urlPath(pos[0]), nil, nil)
		}
		return f.client().call("POST", "/accounts/"+urlPath(pos[0])+"/"+args[0], nil, nil)
	}
	return usagef("unknown subcommand %q", args[0])
}

// readPassword asks a terminal twice without echo, or reads the first line
// of a pipe.
func readPassword(e *env, name string) (auth.Password, error) {
	f, isFile := passwordInput.(*os.File)
	if isFile {
		if t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			first, err := promptNoEcho(e, f, t, "Password for "+name+": ")
			if err != nil {
				return "", err
			}
			again, err := promptNoEcho(e, f, t, "Again: ")
			if err != nil {
				return "", err
			}
			if first != again {
				return "", errors.New("the two passwords differ")
			}
			return first, auth.ValidatePassword(first)
		}
	}
	line, err := bufio.NewReader(io.LimitReader(passwordInput, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	pw := auth.Password(strings.TrimRight(line, "\r\n"))
	if pw == "" {
		return "", usagef("no password on stdin (give it on the first line, or run on a terminal)")
	}
	return pw, auth.ValidatePassword(pw)
}

func promptNoEcho(e *env, f *os.File, t *unix.Termios, prompt string) (auth.Password, error) {
	fmt.Fprint(e.stderr, prompt)
	quiet := *t
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON
	if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, &quiet); err != nil {
		return "", err
	}
	defer func() {
		unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t)
		fmt.Fprintln(e.stderr)
	}()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return auth.Password(strings.TrimRight(line, "\r\n")), nil
}
