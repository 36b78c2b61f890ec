package main

import (
	"io"
	"testing"
	"time"
)

// Every setting has one precedence: the flag given on the command line,
// else the environment variable, else the default.
func TestHostTimeoutFlagWinsOverEnvironment(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  string
		want time.Duration
	}{
		{"default", nil, "", 20 * time.Second},
		{"environment over default", nil, "7s", 7 * time.Second},
		{"flag over environment", []string{"--host-timeout", "3s"}, "7s", 3 * time.Second},
		{"flag alone", []string{"--host-timeout", "3s"}, "", 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFlagSet("test", io.Discard)
			read := hostTimeoutFlag(fs, func(k string) string {
				if k == "GITRELAY_HOST_TIMEOUT" {
					return tt.env
				}
				return ""
			})
			if _, err := parse(fs, tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := read()
			if err != nil || got != tt.want {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
