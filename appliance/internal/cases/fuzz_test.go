package cases

import (
	"encoding/json"
	"errors"
	"testing"
)

// requestKinds decodes a JSON body into one request type and runs its
// command on c, as the API will.
var requestKinds = []struct {
	name string
	run  func(c *Case, body []byte) (validateErr, cmdErr error, ch Change, decoded bool)
}{
	{"open", func(c *Case, b []byte) (error, error, Change, bool) {
		var r OpenRequest
		if json.Unmarshal(b, &r) != nil {
			return nil, nil, Change{}, false
		}
		ch, err := New("IR-fuzz").Open(r)
		return r.Validate(), err, ch, true
	}},
	{"intake", func(c *Case, b []byte) (error, error, Change, bool) {
		var r Intake
		if json.Unmarshal(b, &r) != nil {
			return nil, nil, Change{}, false
		}
		ch, err := c.UpdateIntake(r)
		return r.Validate(), err, ch, true
	}},
	{"assets", func(c *Case, b []byte) (error, error, Change, bool) {
		var r ImportAssetsRequest
		if json.Unmarshal(b, &r) != nil {
			return nil, nil, Change{}, false
		}
		ch, err := c.ImportAssets(r)
		return r.Validate(), err, ch, true
	}},
	{"classify", func(c *Case, b []byte) (error, error, Change, bool) {
		var r ClassifyRequest
		if json.Unmarshal(b, &r) != nil {
			return nil, nil, Change{}, false
		}
		ch, err := c.Classify(r)
		return r.Validate(), err, ch, true
	}},
	{"phase", func(c *Case, b []byte) (error, error, Change, bool) {
		var r PhaseRequest
		if json.Unmarshal(b, &r) != nil {
			return nil, nil, Change{}, false
		}
		ch, err := c.SetPhase(r)
		return r.Validate(), err, ch, true
	}},
	{"sla", func(c *Case, b []byte) (error, error, Change, bool) {
		var r SLATargetsRequest
		if json.Unmarshal(b, &r) != nil {
			return nil, nil, Change{}, false
		}
		ch, err := c.SetSLATargets(r)
		return r.Validate(), err, ch, true
	}},
	{"milestone", func(c *Case, b []byte) (error, error, Change, bool) {
		var r MilestoneRequest
		if json.Unmarshal(b, &r) != nil {
			return nil, nil, Change{}, false
		}
		ch, err := c.Milestone(r)
		return r.Validate(), err, ch, true
	}},
	{"note", func(c *Case, b []byte) (error, error, Change, bool) {
		var r NoteRequest
		if json.Unmarshal(b, &r) != nil {
			return nil, nil, Change{}, false
		}
		ch, err := c.Note(r)
		return r.Validate(), err, ch, true
	}},
	{"task", func(c *Case, b []byte) (error, error, Change, bool) {
		var r TaskRequest
		if json.Unmarshal(b, &r) != nil {
			return nil, nil, Change{}, false
		}
		ch, err := c.AddTask(r)
		return r.Validate(), err, ch, true
	}},
	{"task_update", func(c *Case, b []byte) (error, error, Change, bool) {
		var r UpdateTaskRequest
		if json.Unmarshal(b, &r) != nil {
			return nil, nil, Change{}, false
		}
		ch, err := c.UpdateTask(r)
		return r.Validate(), err, ch, true
	}},
	{"join", func(c *Case, b []byte) (error, error, Change, bool) {
		var r JoinRequest
		if json.Unmarshal(b, &r) != nil {
			return nil, nil, Change{}, false
		}
		ch, err := c.Join(r)
		return r.Validate(), err, ch, true
	}},
	{"leave", func(c *Case, b []byte) (error, error, Change, bool) {
		var r LeaveRequest
		if json.Unmarshal(b, &r) != nil {
			return nil, nil, Change{}, false
		}
		ch, err := c.Leave(r)
		return r.Validate(), err, ch, true
	}},
}

var sentinels = []error{ErrInvalid, ErrTooLarge, ErrTransition, ErrClosed, ErrNotOpen, ErrAlreadyOpen, ErrNotFound, ErrNoChange}

// fuzzCase builds one of a few case states for the fuzzer to work on.
func fuzzCase(t *testing.T, state uint8) *kase {
	k := newKase(t)
	switch state % 4 {
	case 1: // mid-case with people, tasks and assets
		k.must(k.c.Join(JoinRequest{Engineer: "alice", Role: RoleLead}))
		k.must(k.c.AddTask(TaskRequest{Title: "image disks", Assignee: "alice"}))
		k.must(k.c.ImportAssets(ImportAssetsRequest{Assets: []Asset{{IP: "10.0.0.1"}}}))
		k.walk(PhaseContained)
	case 2:
		k.walk(PhaseClosed)
	case 3:
		k.to(PhaseNotIncident, "false alarm")
	}
	return k
}

func FuzzRequests(f *testing.F) {
	seeds := map[string][]string{
		"open":        {`{"title":"Web shell on www","intake":{"symptoms":["cpu_hog"],"reported_at":"2026-11-20T07:00:00Z"}}`},
		"intake":      {`{"reporter":{"name":"王伟","email":"w@example.com"},"symptoms":["other"],"symptoms_other":"x","affected_systems":["fs01"]}`},
		"assets":      {`{"mode":"merge","assets":[{"ip":"10.0.0.2","hostname":"a"},{"hostname":"b","mac":"00:11:22:33:44:55"}]}`},
		"classify":    {`{"category":"malware","subcategory":"ransomware","importance":"critical","loss":"serious","social_impact":"ordinary"}`, `{"category":"other","importance":"ordinary","loss":"minor","social_impact":"ordinary","override_level":"III","override_reason":"press"}`},
		"phase":       {`{"to":"confirmed"}`, `{"to":"reported","reason":"again"}`, `{"to":"intake","reason":"back"}`, `{"to":"closed"}`},
		"sla":         {`{"on_site":"8h","reason":"far"}`},
		"milestone":   {`{"milestone":"responded"}`, `{"milestone":"on_site","at":"2026-11-20T09:00:00+08:00","note":"x"}`},
		"note":        {`{"text":"line\nline"}`},
		"task":        {`{"title":"t","assignee":"bob"}`},
		"task_update": {`{"id":3,"status":"done"}`, `{"id":3,"assignee":""}`},
		"join":        {`{"engineer":"bob","role":"lead"}`},
		"leave":       {`{"engineer":"alice","reason":"off shift"}`},
	}
	for i, k := range requestKinds {
		for _, s := range seeds[k.name] {
			for state := uint8(0); state < 4; state++ {
				f.Add(uint8(i), state, []byte(s))
			}
		}
	}
	f.Fuzz(func(t *testing.T, kind, state uint8, body []byte) {
		k := fuzzCase(t, state)
		rk := requestKinds[int(kind)%len(requestKinds)]
		validateErr, cmdErr, ch, decoded := rk.run(k.c, body)
		if !decoded {
			return
		}
		if validateErr != nil && cmdErr == nil && rk.name != "open" {
			t.Fatalf("%s: Validate failed (%v) but the command accepted it", rk.name, validateErr)
		}
		if cmdErr != nil {
			for _, s := range sentinels {
				if errors.Is(cmdErr, s) {
					return
				}
			}
			t.Fatalf("%s: error matches no sentinel: %v", rk.name, cmdErr)
		}
		if rk.name == "open" {
			c := New("IR-fuzz")
			if err := c.Apply(entryFor(t, c, "fuzz", t0, ch)); err != nil {
				t.Fatalf("open: Apply of a validated change failed: %v", err)
			}
			return
		}
		e := entryFor(t, k.c, "fuzz", k.now, ch)
		if err := k.c.Apply(e); err != nil {
			t.Fatalf("%s: Apply of a validated change failed: %v\npayload %s", rk.name, err, e.Payload)
		}
		// Replaying the same entries gives the same case.
		again, err := Replay(k.c.ID, append(k.entries, e))
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		a, _ := json.Marshal(k.c)
		b, _ := json.Marshal(again)
		if string(a) != string(b) {
			t.Fatalf("%s: replay differs\n%s\n%s", rk.name, a, b)
		}
	})
}
