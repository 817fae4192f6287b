package portal_test

import (
	"errors"
	"fmt"

	"github.com/keyportal/keyportal/middleware/portal"
)

// An app's texts are checked before they are stored: known keys only, and
// texts the page can show.
func ExampleParseMessages() {
	m, err := portal.ParseMessages(map[string]string{"lang": "fr", "create_key": "Créer une clé"})
	fmt.Println(m.Lang, m.CreateKey, err)

	_, err = portal.ParseMessages(map[string]string{"create_kee": "x"})
	fmt.Println(errors.Is(err, portal.ErrInvalidMessages))
	// Output:
	// fr Créer une clé <nil>
	// true
}
