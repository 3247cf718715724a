/* placeholder: filled by the config work in progress */
