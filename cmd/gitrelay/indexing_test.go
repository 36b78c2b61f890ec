package main

import "testing"

func TestTheIndexRateShareIsAPercentageOrAFraction(t *testing.T) {
	for in, want := range map[string]float64{"50%": 0.5, "25 %": 0.25, "0.5": 0.5, "100%": 1, "1": 1, " 10% ": 0.1} {
		if got, ok := parseShare(in); !ok || got != want {
			t.Errorf("parseShare(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"0", "0%", "-5%", "101%", "1.5", "half", ""} {
		if got, ok := parseShare(in); ok {
			t.Errorf("parseShare(%q) = %v, want refused", in, got)
		}
	}
}
