{{/* Chart name, truncated to the 63 characters Kubernetes allows in names. */}}
{{- define "fleetwave-worker.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full resource name: <release>-<chart> unless the release name already contains the chart name. */}}
{{- define "fleetwave-worker.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "fleetwave-worker.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "fleetwave-worker.labels" -}}
helm.sh/chart: {{ include "fleetwave-worker.chart" . }}
{{ include "fleetwave-worker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: worker
{{- end }}

{{/* Labels the Deployment selects its pods by (immutable: keep them few). */}}
{{- define "fleetwave-worker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fleetwave-worker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The codec server's labels: its own name, so the worker's selector never matches its pods. */}}
{{- define "fleetwave-worker.codecServerSelectorLabels" -}}
app.kubernetes.io/name: {{ include "fleetwave-worker.name" . | trunc 49 | trimSuffix "-" }}-codec-server
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "fleetwave-worker.codecServerLabels" -}}
helm.sh/chart: {{ include "fleetwave-worker.chart" . }}
{{ include "fleetwave-worker.codecServerSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: codec-server
{{- end }}

{{/* The image reference: repository@digest when a digest is given (immutable), else repository:tag. */}}
{{- define "fleetwave-worker.image" -}}
{{- if .Values.image.digest }}
{{- if not (regexMatch "^sha256:[a-f0-9]{64}$" .Values.image.digest) }}
{{- fail (printf "image.digest: must be sha256:<64 hex digits>, got %q" .Values.image.digest) }}
{{- end }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "fleetwave-worker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fleetwave-worker.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Refuses values that would break the worker at run time instead of at install time. */}}
{{- define "fleetwave-worker.validate" -}}
{{- $grace := .Values.shutdownGrace | toString }}
{{- if not (regexMatch "^[0-9]+(s|m)$" $grace) }}
{{- fail (printf "shutdownGrace: must be seconds or minutes such as \"30s\" or \"1m\", got %q" $grace) }}
{{- end }}
{{- $graceSeconds := trimSuffix "s" (trimSuffix "m" $grace) | int }}
{{- if hasSuffix "m" $grace }}{{ $graceSeconds = mul $graceSeconds 60 }}{{ end }}
{{- if le (int .Values.terminationGracePeriodSeconds) (add $graceSeconds 15 | int) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed shutdownGrace (%s) plus the worker's 15 s force-shutdown margin" .Values.terminationGracePeriodSeconds $grace) }}
{{- end }}
{{- if not .Values.temporal.address }}
{{- fail "temporal.address: is required (host:port of the Temporal frontend)" }}
{{- end }}
{{- if and .Values.approvalPolicy.existingSecret .Values.approvalPolicy.existingConfigMap }}
{{- fail "approvalPolicy: set existingSecret or existingConfigMap, not both" }}
{{- end }}
{{- range $i, $name := .Values.notify.secretNames }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" ($name | toString)) }}
{{- fail (printf "notify.secretNames[%d]: must be a Secret name (lowercase letters, digits, - and .), got %q" $i ($name | toString)) }}
{{- end }}
{{- end }}
{{- if not (regexMatch "^[A-Za-z0-9._-]+$" (.Values.approvalPolicy.policyKey | toString)) }}
{{- fail (printf "approvalPolicy.policyKey: must be a key of the Secret or ConfigMap (letters, digits, ., _, -), got %q" (.Values.approvalPolicy.policyKey | toString)) }}
{{- end }}
{{- end }}
