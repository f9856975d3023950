// Package mirror mirrors signed APT repositories into the content store,
// snapshots them and publishes signed repositories that apt trusts.
package mirror
