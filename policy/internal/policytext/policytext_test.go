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
