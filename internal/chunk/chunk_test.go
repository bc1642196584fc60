package chunk

import "testing"

// TestNew: values are zero and distinct, and a chunk of size n serves n
// values before the next is allocated.
func TestNew(t *testing.T) {
	var c Of[[2]int]
	var got [8]*[2]int
	allocs := testing.AllocsPerRun(1, func() {
		for i := range got {
			got[i] = c.New(4)
		}
	})
	if allocs != 2 {
		t.Errorf("8 values from chunks of 4: %v allocations, want 2", allocs)
	}
	for i, p := range got {
		if *p != [2]int{} {
			t.Errorf("value %d is %v, want zero", i, *p)
		}
		p[0] = i + 1
	}
	for i, p := range got {
		if p[0] != i+1 {
			t.Errorf("value %d shares its memory with another: %v", i, *p)
		}
	}
}
