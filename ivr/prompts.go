package ivr

import (
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/prompts"
)

// Prompts holds the menu's recorded announcements as PCM at the leg rate.
type Prompts struct {
	Greeting, Menu, Echo, Record, Saved, Invalid, Goodbye, Beep []int16
	NotUnderstood, NoAgent, OneMoment                           []int16
	// HoldMusic loops while a caller waits for an agent (LoadHoldMusic).
	HoldMusic []int16
}

// LoadPrompts reads the announcements from dir, or from the prompts shipped
// inside the binary when dir is empty, resampled to rate. A missing or
// unsupported file is an error that names it, so a bad deployment fails at
// start-up rather than on the first call.
func LoadPrompts(dir string, rate int) (*Prompts, error) {
	var fsys fs.FS = prompts.FS
	if dir != "" {
		fsys = os.DirFS(dir)
	}
	p := &Prompts{}
	for name, dst := range map[string]*[]int16{
		"greeting.wav": &p.Greeting,
		"menu.wav":     &p.Menu,
		"echo.wav":     &p.Echo,
		"record.wav":   &p.Record,
		"saved.wav":    &p.Saved,
		"invalid.wav":  &p.Invalid,
		"goodbye.wav":  &p.Goodbye,
		"beep.wav":     &p.Beep,

		"not-understood.wav": &p.NotUnderstood,
		"no-agent.wav":       &p.NoAgent,
		"one-moment.wav":     &p.OneMoment,
	} {
		pcm, err := loadPrompt(fsys, name, rate)
		if err != nil {
			return nil, fmt.Errorf("prompt %s: %w", name, err)
		}
		*dst = pcm
	}
	return p, nil
}

func loadPrompt(fsys fs.FS, name string, rate int) ([]int16, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		return nil, fmt.Errorf("%s is not seekable", name)
	}
	pcm, err := media.LoadWAV(rs, rate)
	if err != nil {
		return nil, err
	}
	if len(pcm) == 0 {
		return nil, fmt.Errorf("%s holds no audio", name)
	}
	return pcm, nil
}
