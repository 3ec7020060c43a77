// Package bank is the sample hotline Hotline runs with no configuration: a
// retail bank's rule flow and its knowledge articles, built into the
// binary so `hotline serve` answers sensibly from any folder.
package bank

import (
	"embed"

	"github.com/hotline-cc/hotline/dialog/rules"
)

//go:embed flow.yaml knowledge
var files embed.FS

// Flow is the sample's rule flow, as YAML.
func Flow() ([]byte, error) { return files.ReadFile("flow.yaml") }

// RuleFlow is the sample's rule flow, parsed.
func RuleFlow() (*rules.Flow, error) {
	b, err := Flow()
	if err != nil {
		return nil, err
	}
	return rules.ParseFlow(b)
}

// Knowledge is the sample's knowledge base; its articles live under the
// folder "knowledge" of the returned file system.
func Knowledge() (fs embed.FS, dir string) { return files, "knowledge" }
