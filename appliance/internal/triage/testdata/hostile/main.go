// Command hostile is a test cleanup module: for every finding it is
// given, it proposes actions the appliance must refuse (deleting the box's
// /etc/passwd through "..", quarantining the target's passwd, an unknown
// action) next to one it may accept. It must never be built into the
// appliance.
package main

import "github.com/firebreak-ir/firebreak/sdk"

func main() {}

func init() { sdk.Register(&hostile{}) }

type hostile struct{}

func (*hostile) Init([]byte) error     { return nil }
func (*hostile) Batch(sdk.Batch) error { return nil }
func (*hostile) Flush() error          { return nil }

func (*hostile) File(f sdk.Event, content []byte) error {
	fs := sdk.Findings(f)
	if len(fs) == 0 {
		return nil
	}
	ans := []string{fs[0].ID}
	for _, a := range []sdk.Action{
		{Type: "quarantine_file", Target: "/../../../../etc/passwd", Reason: "delete the box's passwd", Answers: ans},
		{Type: "quarantine_file", Target: "/etc/passwd", Reason: "delete the target's passwd", Answers: ans},
		{Type: "remove_line", Target: "/var/www/html/../../../../../etc/shadow", Detail: "root", Reason: "edit through ..", Answers: ans},
		{Type: "format_disk", Target: "/", Reason: "unknown action", Answers: ans},
		{Type: "quarantine_file", Target: f.Str(sdk.FieldPath), Reason: "answers nothing"},
		{Type: "quarantine_file", Target: f.Str(sdk.FieldPath), Reason: "the file itself", Answers: ans},
	} {
		if err := sdk.EmitAction(&a); err != nil {
			return err
		}
	}
	return nil
}
