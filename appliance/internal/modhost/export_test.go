package modhost

import "github.com/firebreak-ir/firebreak/sdk"

// SetInterruptible is for the benchmark that measures what wazero's
// close-on-context-done costs: false compiles later modules without it.
func SetInterruptible(h *Host, on bool) { h.noInterrupt = !on }

// CallBatch delivers a raw batch to m, started if needed, through the
// pipeline's worker, and waits for it, for benchmarks.
func CallBatch(p *Pipeline, m *Module, records []byte) error {
	b := p.newBatch()
	b.recs = append(b.recs, records...)
	b.events = sdk.Batch(records).Len()
	done := make(chan struct{})
	if err := p.send(job{m: m, b: b, done: done}); err != nil {
		return err
	}
	<-done
	return p.drain()
}
