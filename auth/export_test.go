package auth

import "golang.org/x/crypto/bcrypt"

// DummyCost is the bcrypt cost of the hash CheckDummy compares against, for the tests of the
// external package: an unknown account must cost the same bcrypt work as a wrong password.
func DummyCost(p *Passwords) (int, error) { return bcrypt.Cost(p.dummy) }
