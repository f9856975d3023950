package version

import "github.com/eucora/eucora/mirror/debian"

// debianOrder is dpkg's order, from mirror/debian (epoch, then upstream
// and revision by verrevcmp: "~" sorts before everything, even the end).
// Ubuntu uses it too.
type debianOrder struct{}

type debVersion struct {
	s string
	v debian.Version
}

func (debianOrder) Name() string { return "Debian" }

func (debianOrder) Parse(s string) (Version, error) {
	if err := checkLen("Debian", s); err != nil {
		return nil, err
	}
	v, err := debian.ParseVersion(s)
	if err != nil {
		return nil, syntaxf("Debian", s, "%v", err)
	}
	return &debVersion{s: s, v: v}, nil
}

func (v *debVersion) String() string { return v.s }

func (v *debVersion) Compare(o Version) int { return v.v.Compare(o.(*debVersion).v) }
