// Package receiveconfig reads ostree-receive's configuration: YAML files
// with the keys of the Python ostree-receive 1.x (so an existing server's
// file works unchanged) and ostree-push's own additions.
//
// Files are read in order, later ones winning key by key:
// /etc/ostree/ostree-receive.conf, then
// $XDG_CONFIG_HOME/ostree/ostree-receive.conf (~/.config when unset).
// $OSTREE_RECEIVE_CONF, or the --config option, replaces both. A default
// file that does not exist is skipped; one named explicitly must exist.
// Unknown keys warn; a value of the wrong type, or a file that cannot be
// read or parsed, is an error before anything is written.
//
// users: gives keys rights of their own (see ForUser and users.go): the
// identity a key's forced command names (ostree-receive-shell --user
// NAME) maps to rules applied on top of the repository's.
package receiveconfig
