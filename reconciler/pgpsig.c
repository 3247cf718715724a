/* placeholder: filled by the pgpsig work in progress */
