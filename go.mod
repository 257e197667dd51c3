module github.com/ostree-push/ostree-push

go 1.26.8
