package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
)

func runToken(e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stdout, "Usage: firebreak token create NAME [--role admin|responder|viewer]\n"+
			"       firebreak token list\n       firebreak token revoke NAME\n\n"+
			"API tokens let scripts and the console's callers use the TCP API.\n"+
			"The secret is printed once, at creation; the appliance keeps only its hash.\n")
		if len(args) == 0 {
			return usagef("missing subcommand")
		}
		return nil
	}
	switch args[0] {
	case "create":
		f := e.newFlags("token create", "token create NAME [--role ROLE]", "Create an API token and print its secret once.").clientFlags()
		role := f.String("role", "responder", "admin, responder or viewer")
		pos, err := f.parse(args[1:], 1, 1)
		if err != nil {
			return err
		}
		var out struct {
			auth.Token
			Secret string `json:"secret"`
		}
		if err := f.client().call("POST", "/tokens", map[string]string{"name": pos[0], "role": *role}, &out); err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, out)
		}
		fmt.Fprintln(e.stdout, out.Secret)
		return nil
	case "list":
		f := e.newFlags("token list", "token list", "List API tokens (never their secrets).").clientFlags()
		if _, err := f.parse(args[1:], 0, 0); err != nil {
			return err
		}
		var toks []auth.Token
		if err := f.client().call("GET", "/tokens", nil, &toks); err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, toks)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tBY")
		for _, t := range toks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Role, t.Created.Format("2006-01-02 15:04Z07:00"), t.CreatedBy)
		}
		return tw.Flush()
	case "revoke":
		f := e.newFlags("token revoke", "token revoke NAME", "Revoke an API token.").clientFlags()
		pos, err := f.parse(args[1:], 1, 1)
		if err != nil {
			return err
		}
		return f.client().call("DELETE", "/tokens/"+pos[0], nil, nil)
	}
	return usagef("unknown subcommand %q", args[0])
}
