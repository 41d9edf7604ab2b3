package validate

// apiChange is a Kubernetes API version that was deprecated and/or removed.
// Facts from the Kubernetes deprecated API migration guide.
type apiChange struct {
	groupVersion string
	kind         string // "" = every kind of the group version
	deprecatedIn string // minor, "" when not announced
	removedIn    string // minor, "" when still served
	replacement  string
}

var apiChanges = []apiChange{
	{"extensions/v1beta1", "", "1.8", "1.16", "apps/v1 (workloads), networking.k8s.io/v1 (Ingress, NetworkPolicy)"},
	{"apps/v1beta1", "", "1.9", "1.16", "apps/v1"},
	{"apps/v1beta2", "", "1.9", "1.16", "apps/v1"},
	{"networking.k8s.io/v1beta1", "Ingress", "1.19", "1.22", "networking.k8s.io/v1 Ingress"},
	{"networking.k8s.io/v1beta1", "IngressClass", "1.19", "1.22", "networking.k8s.io/v1 IngressClass"},
	{"admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration", "1.16", "1.22", "admissionregistration.k8s.io/v1"},
	{"admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration", "1.16", "1.22", "admissionregistration.k8s.io/v1"},
	{"apiextensions.k8s.io/v1beta1", "", "1.16", "1.22", "apiextensions.k8s.io/v1"},
	{"apiregistration.k8s.io/v1beta1", "", "1.19", "1.22", "apiregistration.k8s.io/v1"},
	{"authentication.k8s.io/v1beta1", "", "1.19", "1.22", "authentication.k8s.io/v1"},
	{"authorization.k8s.io/v1beta1", "", "1.19", "1.22", "authorization.k8s.io/v1"},
	{"certificates.k8s.io/v1beta1", "", "1.19", "1.22", "certificates.k8s.io/v1"},
	{"coordination.k8s.io/v1beta1", "", "1.19", "1.22", "coordination.k8s.io/v1"},
	{"rbac.authorization.k8s.io/v1beta1", "", "1.17", "1.22", "rbac.authorization.k8s.io/v1"},
	{"rbac.authorization.k8s.io/v1alpha1", "", "1.17", "1.22", "rbac.authorization.k8s.io/v1"},
	{"scheduling.k8s.io/v1beta1", "", "1.14", "1.22", "scheduling.k8s.io/v1"},
	{"storage.k8s.io/v1beta1", "CSIDriver", "1.19", "1.22", "storage.k8s.io/v1"},
	{"storage.k8s.io/v1beta1", "CSINode", "1.17", "1.22", "storage.k8s.io/v1"},
	{"storage.k8s.io/v1beta1", "StorageClass", "1.19", "1.22", "storage.k8s.io/v1"},
	{"storage.k8s.io/v1beta1", "VolumeAttachment", "1.19", "1.22", "storage.k8s.io/v1"},
	{"batch/v1beta1", "CronJob", "1.21", "1.25", "batch/v1 CronJob"},
	{"discovery.k8s.io/v1beta1", "EndpointSlice", "1.21", "1.25", "discovery.k8s.io/v1 EndpointSlice"},
	{"events.k8s.io/v1beta1", "Event", "1.19", "1.25", "events.k8s.io/v1 Event"},
	{"autoscaling/v2beta1", "HorizontalPodAutoscaler", "1.22", "1.25", "autoscaling/v2 HorizontalPodAutoscaler"},
	{"policy/v1beta1", "PodDisruptionBudget", "1.21", "1.25", "policy/v1 PodDisruptionBudget"},
	{"policy/v1beta1", "PodSecurityPolicy", "1.21", "1.25", "Pod Security Admission (namespace labels) or a policy engine"},
	{"node.k8s.io/v1beta1", "RuntimeClass", "1.20", "1.25", "node.k8s.io/v1 RuntimeClass"},
	{"autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.23", "1.26", "autoscaling/v2 HorizontalPodAutoscaler"},
	{"flowcontrol.apiserver.k8s.io/v1beta1", "", "1.23", "1.26", "flowcontrol.apiserver.k8s.io/v1"},
	{"storage.k8s.io/v1beta1", "CSIStorageCapacity", "1.24", "1.27", "storage.k8s.io/v1 CSIStorageCapacity"},
	{"flowcontrol.apiserver.k8s.io/v1beta2", "", "1.26", "1.29", "flowcontrol.apiserver.k8s.io/v1"},
	{"flowcontrol.apiserver.k8s.io/v1beta3", "", "1.29", "1.32", "flowcontrol.apiserver.k8s.io/v1"},
	{"v1", "Endpoints", "1.33", "", "discovery.k8s.io/v1 EndpointSlice"},
}

// apiChangeFor returns the change that applies to apiVersion/kind at minor.
func apiChangeFor(apiVersion, kind, minor string) (c apiChange, removed, deprecated bool) {
	for _, c := range apiChanges {
		if c.groupVersion != apiVersion || (c.kind != "" && c.kind != kind) {
			continue
		}
		if c.removedIn != "" && !minorLess(minor, c.removedIn) {
			return c, true, false
		}
		if c.deprecatedIn != "" && !minorLess(minor, c.deprecatedIn) {
			return c, false, true
		}
	}
	return apiChange{}, false, false
}
