package media

import "testing"

func TestReceiveStatsLoss(t *testing.T) {
	tests := []struct {
		name string
		seqs []uint16
		lost int64
	}{
		{"in order", []uint16{1, 2, 3, 4}, 0},
		{"one gap", []uint16{1, 2, 4, 5}, 1},
		{"repeated end packets", []uint16{1, 2, 3, 3, 3}, 0},
		{"reordered", []uint16{1, 3, 2, 4}, 0},
		{"wrap-around", []uint16{65534, 65535, 0, 2}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r receiveStats
			for _, s := range tt.seqs {
				r.update(s, 7)
			}
			if got := r.lost(); got != tt.lost {
				t.Fatalf("lost %d, want %d", got, tt.lost)
			}
		})
	}
}
