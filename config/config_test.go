package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if c.Recording.Dir != "recordings" || !c.Recording.Calls {
		t.Errorf("recording defaults = %+v", c.Recording)
	}
}

func TestParseOverridesOnlyWhatIsGiven(t *testing.T) {
	c, err := Parse([]byte("log:\n  level: debug\nivr:\n  menu_timeout: 3s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Log.Level != "debug" || c.Log.Format != "text" {
		t.Errorf("log = %+v", c.Log)
	}
	if c.IVR.MenuTimeout != 3*time.Second || c.IVR.MenuRepeats != 3 {
		t.Errorf("ivr = %+v", c.IVR)
	}
}

func TestParseRejectsBadInput(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown key":   {"logg:\n  level: info\n", "field logg not found"},
		"bad level":     {"log:\n  level: loud\n", "log.level"},
		"bad format":    {"log:\n  format: xml\n", "log.format"},
		"bad duration":  {"ivr:\n  menu_timeout: soon\n", "line 2"},
		"negative time": {"ivr:\n  echo_limit: -1s\n", "echo_limit"},
		"not a map":     {"- a\n- b\n", "cannot unmarshal"},
		"empty dir":     {"recording:\n  dir: \"\"\n", "recording.dir"},
		"tab indent":    {"log:\n\tlevel: info\n", "found character"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestExampleConfigParses(t *testing.T) {
	c, err := Load("../hotline.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// The example documents the defaults: it must not drift from them.
	if d := Default(); !reflect.DeepEqual(c, d) {
		t.Errorf("hotline.example.yaml differs from the defaults:\n%+v\n%+v", c, d)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("log:\n  level: debug\n"))
	f.Add([]byte("sip:\n  listen: [\"udp:127.0.0.1:0\"]\n"))
	f.Add([]byte("ivr:\n  menu_timeout: 3s\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("Parse accepted a config Validate rejects: %v", verr)
			}
		}
	})
}
