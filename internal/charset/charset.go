// Package charset matches short ASCII tokens (names, identifiers, ids)
// against a character class and a length range, without regular expressions.
//
// It exists for start-up time: a package-level regexp.MustCompile of a
// pattern such as `^[a-z0-9][a-z0-9._-]{0,62}$` runs at every process start
// and compiles the bounded repetition into a large program. A Set is a
// 128-bit bitmap built without allocating, and Match is a single loop.
//
// Every Set holds ASCII bytes only, so matching bytes accepts exactly the
// strings the equivalent regexp (which matches UTF-8 runes) accepts: a byte
// of a multi-byte or invalid UTF-8 sequence is never in a Set.
package charset

// Set is a set of ASCII bytes (0-127). The zero Set is empty.
type Set [2]uint64

// Of returns the set described by spec, written like the inside of a regexp
// bracket expression without negation or escapes: single characters and
// ranges "a-z". A '-' that is first or last in spec stands for itself.
// Of panics if spec holds a non-ASCII byte or a reversed range; it is meant
// for package-level variables built from constant specs.
func Of(spec string) Set {
	var s Set
	for i := 0; i < len(spec); i++ {
		lo, hi := spec[i], spec[i]
		if i+2 < len(spec) && spec[i+1] == '-' {
			hi = spec[i+2]
			i += 2
		}
		if lo > hi || hi >= 0x80 {
			panic("charset: bad spec " + spec)
		}
		for c := lo; ; c++ {
			s[c>>6] |= 1 << (c & 63)
			if c == hi {
				break
			}
		}
	}
	return s
}

// Contains reports whether b is in s.
func (s Set) Contains(b byte) bool {
	return b < 0x80 && s[b>>6]&(1<<(b&63)) != 0
}

// Match reports whether s is min to max bytes long (inclusive), its first
// byte is in first and every other byte is in rest. It is the regexp
// `^[first][rest]{min-1,max-1}$` for min >= 1; with min == 0 the empty
// string matches too.
func Match(s string, min, max int, first, rest Set) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	if len(s) == 0 {
		return true
	}
	if !first.Contains(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !rest.Contains(s[i]) {
			return false
		}
	}
	return true
}
