package analyze

import "testing"

func TestPositive(t *testing.T) {
	if Positive(0, 5) != 5 || Positive(-1, 5) != 5 || Positive(3, 5) != 3 || Positive(0.0, 0.8) != 0.8 || Positive(0.25, 0.8) != 0.25 {
		t.Fatal("Positive: an unset or negative value must take the default, any other stand")
	}
}
