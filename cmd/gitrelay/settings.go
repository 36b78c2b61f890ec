package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
)

// settings is a command's flags, some of which stand for an environment
// variable. Every setting follows one precedence, in one place (parse): the
// flag given on the command line, else its environment variable, else the
// flag's default. Defaults are never read from the environment, so --help
// prints only built-in defaults and never a value (such as a database URL
// with its password) that came from the environment.
type settings struct {
	*flag.FlagSet
	getenv func(string) string
	env    map[string]envVar // by flag name
}

type envVar struct {
	name string
	// secret settings are never quoted, not even in an error message.
	secret bool
}

func newFlagSet(name string, stderr io.Writer, getenv func(string) string) *settings {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &settings{FlagSet: fs, getenv: getenv, env: map[string]envVar{}}
}

// fromEnv lets the environment variable env stand for the flag name when
// the command line does not give it.
func (s *settings) fromEnv(name, env string) { s.bind(name, envVar{name: env}) }

// fromSecretEnv is fromEnv for a value that may hold a secret.
func (s *settings) fromSecretEnv(name, env string) { s.bind(name, envVar{name: env, secret: true}) }

func (s *settings) bind(name string, v envVar) {
	f := s.Lookup(name)
	if f == nil {
		panic("no flag " + name) // a programming error: bind after registering
	}
	s.env[name] = v
	f.Usage += " (env " + v.name + ")"
}

// errHelp reports that --help was asked for and printed.
var errHelp = errors.New("help requested")

// parse parses flags that may come before, between or after positional
// arguments ("users add bob --admin"), then gives every flag the command
// line left out its environment variable's value, if set.
func parse(s *settings, args []string) ([]string, error) {
	var pos []string
	for {
		if err := s.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, usageError{err.Error()}
		}
		args = s.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	given := map[string]bool{}
	s.Visit(func(f *flag.Flag) { given[f.Name] = true })
	names := make([]string, 0, len(s.env))
	for name := range s.env {
		names = append(names, name)
	}
	sort.Strings(names) // the same error first, every run
	for _, name := range names {
		v := s.env[name]
		val := s.getenv(v.name)
		if given[name] || val == "" {
			continue
		}
		if err := s.Set(name, val); err != nil {
			if v.secret {
				return nil, usagef("%s is not a valid value for --%s", v.name, name)
			}
			return nil, usagef("%s=%q is not a valid value for --%s: %v", v.name, val, name, err)
		}
	}
	return pos, nil
}

// flagOrEnv names a setting in messages: "--addr (or GITRELAY_ADDR)".
func (s *settings) flagOrEnv(name string) string {
	if v, ok := s.env[name]; ok {
		return fmt.Sprintf("--%s (or %s)", name, v.name)
	}
	return "--" + name
}
