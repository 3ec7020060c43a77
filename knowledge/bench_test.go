package knowledge

import "testing"

// BenchmarkSearch is the cost of one caller's question against the sample
// base, over the whole question table (English, Chinese, misheard).
func BenchmarkSearch(b *testing.B) {
	kb := sample(b)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		kb.Search(questions[i%len(questions)].q, 3)
	}
}

// BenchmarkSearchFuzzy is a question whose every word is unknown, so each
// goes through the fuzzy lookup: the worst case.
func BenchmarkSearchFuzzy(b *testing.B) {
	kb := sample(b)
	b.ResetTimer()
	for b.Loop() {
		kb.Search("i think my dabit cord was stalen from my wallat", 3)
	}
}

// BenchmarkLoad is the cost of reading the sample folder, paid at start
// and on every reload.
func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		sample(b)
	}
}
