package console

import "github.com/firebreak-ir/firebreak/appliance/internal/auth"

// StartSessionForTest starts a session for acc and returns its cookie value.
func StartSessionForTest(s *Sessions, acc auth.Account) string {
	id, _ := s.create(acc)
	return id
}
