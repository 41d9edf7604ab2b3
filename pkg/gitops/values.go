package gitops

// GitValues are the otomi.git settings of a values tree.
type GitValues struct {
	RepoURL, Branch, Username, Password, Email string
}

// GitValuesOf reads otomi.git.{repoUrl,branch,username,password,email} from
// a merged (decrypted) values tree; missing values are empty.
func GitValuesOf(tree map[string]any) GitValues {
	otomi, _ := tree["otomi"].(map[string]any)
	g, _ := otomi["git"].(map[string]any)
	str := func(k string) string { s, _ := g[k].(string); return s }
	return GitValues{RepoURL: str("repoUrl"), Branch: str("branch"), Username: str("username"), Password: str("password"), Email: str("email")}
}

// Env names of the git settings otomi reads from the environment.
const (
	EnvUsername         = "OTOMI_GIT_USERNAME"
	EnvPassword         = "OTOMI_GIT_PASSWORD"
	EnvSSHKey           = "OTOMI_GIT_SSH_KEY"
	EnvSSHKeyPassphrase = "OTOMI_GIT_SSH_KEY_PASSPHRASE"
	EnvAuthorName       = "OTOMI_GIT_AUTHOR_NAME"
	EnvAuthorEmail      = "OTOMI_GIT_AUTHOR_EMAIL"
)

// Spec gathers a RemoteSpec from the command line (remoteURL, branch,
// sshKey; empty when not given), the environment and the values.
func Spec(v GitValues, remoteURL, branch, sshKey string, getenv func(string) string) RemoteSpec {
	if branch == "" {
		branch = v.Branch
	}
	if branch == "" {
		branch = "main"
	}
	if sshKey == "" {
		sshKey = getenv(EnvSSHKey)
	}
	return RemoteSpec{
		URL:              remoteURL,
		ValuesURL:        v.RepoURL,
		ValuesUsername:   v.Username,
		ValuesPassword:   v.Password,
		EnvUsername:      getenv(EnvUsername),
		EnvPassword:      getenv(EnvPassword),
		SSHKeyFile:       sshKey,
		SSHKeyPassphrase: getenv(EnvSSHKeyPassphrase),
		Branch:           branch,
	}
}
