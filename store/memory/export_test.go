package memory

// Held counts what is physically held, for tests of reclaim that must
// not touch the records (touching reclaims lazily).
func (s *Store) Held() (sessions, tokens, recoveries, recoveryEmails, counters int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions), len(s.sessionByToken), len(s.recoveries), len(s.recoveryByEmail), len(s.counters)
}
