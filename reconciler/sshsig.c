/* placeholder: filled by the sshsig work in progress */
