package policytext

import "testing"

func TestTrailingComment(t *testing.T) {
	for field, want := range map[string]string{
		"acme":             "",
		"acme#1":           "",
		"#acme":            "",
		"acme # owner":     "# owner",
		"acme\t#owner":     "#owner",
		"a #b #c":          "#b #c",
		"api_keys:manage ": "",
	} {
		if got := TrailingComment(field); got != want {
			t.Errorf("TrailingComment(%q) = %q, want %q", field, got, want)
		}
	}
}

func TestRowComment(t *testing.T) {
	if got := RowComment([]string{"g", "alice", "admin", "acme # owner"}); got != "# owner" {
		t.Errorf("RowComment of a row with a comment = %q", got)
	}
	if got := RowComment([]string{"g", "alice#1", "admin", "acme"}); got != "" {
		t.Errorf("RowComment of a row without one = %q", got)
	}
}
