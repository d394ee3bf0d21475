{{/*
Names, labels and the pieces every aiflow pod shares (env, volumes, security).
*/}}

{{- define "aiflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: "<release>-<chart>", or the release name when it already contains the chart name.
Truncated to 63 characters (DNS label) less room for the longest suffix ("-postgresql-hl").
*/}}
{{- define "aiflow.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 48 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 48 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 48 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "aiflow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels; pass (dict "ctx" $ "component" "server"). */}}
{{- define "aiflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aiflow.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Common labels; pass (dict "ctx" $ "component" "server"). */}}
{{- define "aiflow.labels" -}}
helm.sh/chart: {{ include "aiflow.chart" .ctx }}
{{ include "aiflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: aiflow
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "aiflow.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "aiflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aiflow.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create=false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "aiflow.jobServiceAccountName" -}}
{{- if .Values.jobs.serviceAccount.create }}
{{- default (printf "%s-job" (include "aiflow.fullname" .)) .Values.jobs.serviceAccount.name }}
{{- else }}
{{- required "jobs.serviceAccount.name is required when jobs.serviceAccount.create=false" .Values.jobs.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "aiflow.secretKeySecretName" -}}
{{- default (printf "%s-secret-key" (include "aiflow.fullname" .)) .Values.secretKey.existingSecret }}
{{- end }}

{{- define "aiflow.secretKeySecretKey" -}}
{{- if .Values.secretKey.existingSecret }}{{ .Values.secretKey.existingSecretKey }}{{ else }}secret-key{{ end }}
{{- end }}

{{- define "aiflow.metastoreSecretName" -}}
{{- default (printf "%s-metastore" (include "aiflow.fullname" .)) .Values.externalDatabase.existingSecret }}
{{- end }}

{{- define "aiflow.metastoreSecretKey" -}}
{{- if .Values.externalDatabase.existingSecret }}{{ .Values.externalDatabase.existingSecretKey }}{{ else }}uri{{ end }}
{{- end }}

{{- define "aiflow.postgresqlHost" -}}
{{- printf "%s-postgresql" (include "aiflow.fullname" .) }}
{{- end }}

{{- define "aiflow.serverServiceName" -}}
{{- printf "%s-server" (include "aiflow.fullname" .) }}
{{- end }}

{{/*
The Flink session cluster's FlinkDeployment name. Flink's native Kubernetes mode takes it as
kubernetes.cluster-id, which must be at most 45 characters: the full name is cut to 39.
*/}}
{{- define "aiflow.flinkSessionName" -}}
{{- printf "%s-flink" (include "aiflow.fullname" . | trunc 39 | trimSuffix "-") }}
{{- end }}

{{/*
Where Flink jobs are submitted when the chart runs a session cluster: the operator creates the
JobManager's REST Service "<deployment name>-rest" on rest.port (default 8081).
*/}}
{{- define "aiflow.flinkRestUrl" -}}
{{- $port := index .Values.flink.sessionCluster.flinkConfiguration "rest.port" | default 8081 }}
{{- printf "http://%s-rest.%s.svc:%v" (include "aiflow.flinkSessionName" .) .Release.Namespace $port }}
{{- end }}

{{- define "aiflow.jobApiUrl" -}}
{{- default (printf "http://%s.%s.svc:%v" (include "aiflow.serverServiceName" .) .Release.Namespace .Values.server.service.port) .Values.server.jobApiUrl }}
{{- end }}

{{/*
Refuse combinations the schema cannot express, naming the keys at fault.
*/}}
{{- define "aiflow.validate" -}}
{{- $external := or .Values.externalDatabase.url .Values.externalDatabase.existingSecret }}
{{- if and .Values.externalDatabase.url .Values.externalDatabase.existingSecret }}
{{- fail "externalDatabase.url and externalDatabase.existingSecret are both set: set one" }}
{{- end }}
{{- if and $external .Values.postgresql.enabled }}
{{- fail "externalDatabase is set and postgresql.enabled=true: set postgresql.enabled=false to use the external database" }}
{{- end }}
{{- if not (or $external .Values.postgresql.enabled) }}
{{- fail "no meta store: set externalDatabase.url or externalDatabase.existingSecret (production), or postgresql.enabled=true (trials)" }}
{{- end }}
{{- with .Values.flink.sessionCluster }}
{{- if .enabled }}
{{- if (($.Values.config).flink).rest_url }}
{{- fail "flink.sessionCluster.enabled=true and config.flink.rest_url are both set: the chart points aiflow at its session cluster; unset config.flink.rest_url, or set flink.sessionCluster.enabled=false to use that cluster" }}
{{- end }}
{{- if not (regexMatch "^[a-z]" (include "aiflow.flinkSessionName" $)) }}
{{- fail (printf "the Flink session cluster's name %q must start with a letter (a Flink cluster id): set fullnameOverride" (include "aiflow.flinkSessionName" $)) }}
{{- end }}
{{- if and (gt (int .jobManager.replicas) 1) (not (index .flinkConfiguration "high-availability.type")) }}
{{- fail (printf "flink.sessionCluster.jobManager.replicas=%v needs Kubernetes HA: set flink.sessionCluster.flinkConfiguration high-availability.type=kubernetes and high-availability.storageDir" .jobManager.replicas) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.scheduler.embedded (gt (int .Values.server.replicas) 1) }}
{{- fail (printf "scheduler.embedded=true with server.replicas=%v would run %v schedulers: set server.replicas=1 or scheduler.embedded=false" .Values.server.replicas .Values.server.replicas) }}
{{- end }}
{{- end }}

{{/*
Environment of every aiflow container: where AIFLOW_HOME is, the meta store URL from its
Secret (never inline), the Kubernetes deployer's settings, and the Flink session cluster's
REST URL when the chart runs one.
*/}}
{{- define "aiflow.env" -}}
- name: AIFLOW_HOME
  value: /home/aiflow
- name: HOME
  value: /home/aiflow
- name: AIFLOW__METASTORE__URI
  valueFrom:
    secretKeyRef:
      name: {{ include "aiflow.metastoreSecretName" . }}
      key: {{ include "aiflow.metastoreSecretKey" . }}
- name: AIFLOW__KUBERNETES__NAMESPACE
  value: {{ .Release.Namespace | quote }}
- name: AIFLOW__KUBERNETES__IMAGE
  value: {{ include "aiflow.image" . | quote }}
- name: AIFLOW__KUBERNETES__SERVICE_ACCOUNT
  value: {{ include "aiflow.jobServiceAccountName" . | quote }}
{{- if .Values.flink.sessionCluster.enabled }}
# Flink jobs are submitted to the chart's session cluster (unset: an embedded mini-cluster)
- name: AIFLOW__FLINK__REST_URL
  value: {{ include "aiflow.flinkRestUrl" . | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Volumes of aiflow pods: writable $HOME (= $AIFLOW_HOME) and /tmp, and the config file. */}}
{{- define "aiflow.volumes" -}}
- name: home
  emptyDir:
    sizeLimit: {{ .Values.homeSizeLimit }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
- name: config
  configMap:
    name: {{ include "aiflow.fullname" . }}-config
{{- end }}

{{- define "aiflow.volumeMounts" -}}
- name: home
  mountPath: /home/aiflow
- name: tmp
  mountPath: /tmp
- name: config
  mountPath: /home/aiflow/aiflow.toml
  subPath: aiflow.toml
  readOnly: true
{{- end }}

{{/* Pod-level settings shared by aiflow pods; pass the root context. */}}
{{- define "aiflow.podSpecCommon" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
