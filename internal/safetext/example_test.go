package safetext_test

import (
	"fmt"
	"strings"

	"github.com/keyportal/keyportal/internal/safetext"
)

func ExampleUnsafe() {
	for _, name := range []string{"CI deploys", "Café 中文 🙂", "red\x1b[31m", "invoice.\u202efdp.exe", "two\nlines"} {
		fmt.Printf("%q unsafe: %v\n", name, strings.ContainsFunc(name, safetext.Unsafe))
	}
	// Output:
	// "CI deploys" unsafe: false
	// "Café 中文 🙂" unsafe: false
	// "red\x1b[31m" unsafe: true
	// "invoice.\u202efdp.exe" unsafe: true
	// "two\nlines" unsafe: true
}
