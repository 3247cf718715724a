/* placeholder: filled by the secrets work in progress */
