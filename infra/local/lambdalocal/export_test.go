package lambdalocal

import "time"

// SetInitTimeout shortens the 10 s init limit, so that a test reaches it
// quickly. Call it before the first invoke.
func SetInitTimeout(s *Service, d time.Duration) { s.initTimeout = d }
