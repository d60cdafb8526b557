module pullpass.local/credential-provider

go 1.24
