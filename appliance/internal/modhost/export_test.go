package modhost

// SetInterruptible is for the benchmark that measures what wazero's
// close-on-context-done costs: false compiles later modules without it.
func SetInterruptible(h *Host, on bool) { h.noInterrupt = !on }

// CallBatch delivers a raw batch to m, started if needed, for benchmarks.
func CallBatch(p *Pipeline, m *Module, records []byte) error {
	if err := p.append(m, records); err != nil {
		return err
	}
	return p.run(m, false)
}
