package modhost

// matcher is an Aho–Corasick automaton over bytes, the native multi-pattern
// matcher guests call through the match host function: scanning a payload
// in the guest costs about ten times as much as here.
type matcher struct {
	fold  bool
	goto_ [][256]int32 // dense transitions (patterns are few and short)
	out   [][]int32    // pattern indexes ending at each state (with suffixes)
	n     int          // patterns
	// The scan loop's form: one flat table, the input byte translated
	// (case folding) through xlat, and the low bit of a state marking that
	// patterns end there, so the common step is two loads and no branch
	// on the output lists.
	flat []int32 // state<<8 | byte → next<<1 | terminal
	xlat [256]byte
}

const (
	maxPatterns    = 4096
	maxPatternSets = 16
)

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func newMatcher(patterns [][]byte, fold bool) *matcher {
	m := &matcher{fold: fold, n: len(patterns)}
	m.goto_ = append(m.goto_, [256]int32{})
	m.out = append(m.out, nil)
	for i := range m.goto_[0] {
		m.goto_[0][i] = -1
	}
	for idx, p := range patterns {
		s := int32(0)
		for _, c := range p {
			if fold {
				c = lower(c)
			}
			if m.goto_[s][c] <= 0 {
				var row [256]int32
				for i := range row {
					row[i] = -1
				}
				m.goto_ = append(m.goto_, row)
				m.out = append(m.out, nil)
				m.goto_[s][c] = int32(len(m.goto_) - 1)
			}
			s = m.goto_[s][c]
		}
		m.out[s] = append(m.out[s], int32(idx))
	}
	// Breadth-first: failure links folded into the transition table.
	fail := make([]int32, len(m.goto_))
	var queue []int32
	for c := 0; c < 256; c++ {
		if t := m.goto_[0][c]; t > 0 {
			fail[t] = 0
			queue = append(queue, t)
		} else {
			m.goto_[0][c] = 0
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		m.out[s] = append(m.out[s], m.out[fail[s]]...)
		for c := 0; c < 256; c++ {
			t := m.goto_[s][c]
			if t > 0 {
				fail[t] = m.goto_[fail[s]][c]
				queue = append(queue, t)
			} else {
				m.goto_[s][c] = m.goto_[fail[s]][c]
			}
		}
	}
	m.flat = make([]int32, len(m.goto_)*256)
	for st := range m.goto_ {
		for c := 0; c < 256; c++ {
			next := m.goto_[st][c]
			v := next << 1
			if len(m.out[next]) > 0 {
				v |= 1
			}
			m.flat[st<<8|c] = v
		}
	}
	for c := range m.xlat {
		m.xlat[c] = byte(c)
		if fold {
			m.xlat[c] = lower(byte(c))
		}
	}
	return m
}

// scan calls hit with the index of each pattern found, once per pattern,
// in order of the end of its first occurrence, until hit returns false.
func (m *matcher) scan(data []byte, seen []bool, hit func(int32) bool) {
	clear(seen)
	flat, xlat := m.flat, &m.xlat
	s := int32(0)
	for _, c := range data {
		v := flat[int(s)<<8|int(xlat[c])]
		s = v >> 1
		if v&1 == 0 {
			continue
		}
		for _, idx := range m.out[s] {
			if !seen[idx] {
				seen[idx] = true
				if !hit(idx) {
					return
				}
			}
		}
	}
}
