/* libFuzzer target: what a kubeconfig's exec credential plugin prints (an
 * ExecCredential), which ferry parses to authenticate to the cluster. */
#include "providers/kubevirt/kubeconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const versions[] = {"client.authentication.k8s.io/v1",
					       "client.authentication.k8s.io/v1beta1"};

	for (size_t v = 0; v < 2; v++) {
		struct ferry_kube_cred c = {0};
		struct ferry_err err = FERRY_ERR_INIT;

		if (ferry_kube_exec_parse(versions[v], (const char *)data, size, &c, &err) == 0) {
			/* a credential it takes has a token or a certificate
			 * with its key, whole strings */
			if ((!c.token && !c.client_cert) || !c.client_cert != !c.client_key ||
			    (c.client_cert && strlen(c.client_cert) != c.client_cert_len) ||
			    (c.client_key && strlen(c.client_key) != c.client_key_len))
				__builtin_trap();
		}
		ferry_kube_cred_release(&c);
	}
	return 0;
}
