package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/urfave/cli/v2"
)

// Locate returns the configuration file for a command of group ("hub",
// "edge", ...): explicit when given (--config), else $EUCORA_CONFIG, else
// DefaultPath(group) when that file exists. An explicit or environment
// file must exist (must is true); "" means no file applies.
func Locate(explicit, group string) (path string, must bool) {
	if explicit != "" {
		return explicit, true
	}
	if p := os.Getenv(EnvVar); p != "" {
		return p, true
	}
	if group == "hub" || group == "edge" {
		p := DefaultPath(group)
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// Relax clears Required on the flags of cmd that vals supply, so that
// urfave/cli's check before the action (which runs before Apply can) lets
// a required flag come from the file. Call it before the command runs.
func Relax(cmd *cli.Command, vals []Value) {
	for _, v := range vals {
		f := findFlag(cmd, v.Flag)
		if f == nil {
			continue
		}
		rv := reflect.ValueOf(f)
		if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
			continue
		}
		if r := rv.Elem().FieldByName("Required"); r.IsValid() && r.CanSet() && r.Kind() == reflect.Bool {
			r.SetBool(false)
		}
	}
}

// Apply sets on c every value whose flag was given neither on the command
// line nor through its environment variable, and returns those it set
// (the ones the command now runs with).
func Apply(c *cli.Context, vals []Value) ([]Value, error) {
	var applied []Value
	for _, v := range vals {
		if c.IsSet(v.Flag) {
			continue
		}
		for _, a := range v.Args {
			if err := c.Set(v.Flag, a); err != nil {
				return applied, fmt.Errorf("key %s (line %d): %w", v.Key, v.Line, err)
			}
		}
		applied = append(applied, v)
	}
	return applied, nil
}

// SourceError is a command's error about a flag whose value came from a
// configuration file; Error names the file, line and key after the
// command's own message.
type SourceError struct {
	Err   error
	File  string
	Value Value
}

func (e *SourceError) Error() string {
	return fmt.Sprintf("%v (the value is from %s:%d, key %s)", e.Err, e.File, e.Value.Line, e.Value.Key)
}

func (e *SourceError) Unwrap() error { return e.Err }

// Attribute wraps err in a *SourceError when its message names one of the
// applied flags ("--interval"), so a bad value from the file is reported
// with where it came from. Other errors are returned unchanged.
func Attribute(err error, file string, applied []Value) error {
	if err == nil || len(applied) == 0 {
		return err
	}
	var se *SourceError
	if errors.As(err, &se) {
		return err
	}
	msg := err.Error()
	for _, v := range applied {
		if mentionsFlag(msg, v.Flag) {
			return &SourceError{Err: err, File: file, Value: v}
		}
	}
	return err
}

// mentionsFlag reports whether msg holds "--name" not followed by more of a
// flag name ("--data" is not in "--data-dir").
func mentionsFlag(msg, name string) bool {
	needle := "--" + name
	for i := 0; ; {
		j := strings.Index(msg[i:], needle)
		if j < 0 {
			return false
		}
		end := i + j + len(needle)
		if end == len(msg) || !isFlagChar(msg[end]) {
			return true
		}
		i = end
	}
}

func isFlagChar(b byte) bool {
	return b == '-' || b == '_' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
}
