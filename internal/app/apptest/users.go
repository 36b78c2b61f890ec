package apptest

import "github.com/gitrelay/gitrelay/internal/directory"

func directoryUser(username, name string) directory.NewUser {
	return directory.NewUser{Username: username, DisplayName: name}
}
