package campaign

import (
	"fmt"
	"strings"
)

// Config is the campaigns section of the configuration file: where
// campaign calls go.
type Config struct {
	// Gateway is the SIP URI a contact is called at, {number} standing for
	// their number: "sip:{number}@carrier.example". Default "": no
	// outbound campaigns (the API answers 501).
	Gateway string `yaml:"gateway"`
	// Trunk names the sip.trunks entry whose outbound credentials answer
	// the carrier's challenge. Default "": none.
	Trunk string `yaml:"trunk"`
	// CallerID is the user part of the From of campaign calls. Default
	// "hotline".
	CallerID string `yaml:"caller_id"`
	// Flows are the rule flows a campaign may name, name to YAML file;
	// a campaign without one runs the node's dialog. Default none.
	Flows map[string]string `yaml:"flows"`
}

// DefaultConfig returns the campaigns section's defaults.
func DefaultConfig() Config { return Config{CallerID: "hotline"} }

// Validate reports settings campaigns cannot run with.
func (c Config) Validate() error {
	if c.Gateway != "" && (!strings.HasPrefix(c.Gateway, "sip:") || !strings.Contains(c.Gateway, "{number}")) {
		return fmt.Errorf("campaigns.gateway %q: want a sip: URI with {number}, such as sip:{number}@carrier.example", c.Gateway)
	}
	if c.CallerID == "" || strings.ContainsAny(c.CallerID, "@:;<> \"") {
		return fmt.Errorf("campaigns.caller_id %q: want the user part of a SIP URI", c.CallerID)
	}
	for name, path := range c.Flows {
		if !validName.MatchString(name) || path == "" {
			return fmt.Errorf("campaigns.flows: %q: want a name of letters, digits, _ or - and a file", name)
		}
	}
	return nil
}
