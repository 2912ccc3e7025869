package postgres

// SetCommitFault makes every commit of s fail with err (rolled back), or
// commit again when err is nil.
func SetCommitFault(s *Store, err error) {
	if err == nil {
		s.commitFault.Store(nil)
		return
	}
	s.commitFault.Store(&err)
}
