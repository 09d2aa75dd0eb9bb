{{/*
Names, labels and the pieces the server Deployment and the migration Job share.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "elevator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every resource name: fullnameOverride, or "<release>-<chart>" (just the release
name when it already contains the chart name). Kept within 63 characters, a DNS label.
*/}}
{{- define "elevator.fullname" -}}
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

{{/* The helm.sh/chart label: "<chart>-<version>". */}}
{{- define "elevator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The image tag: image.tag, or the chart's appVersion. */}}
{{- define "elevator.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion | toString }}
{{- end }}

{{/* The image reference, pinned by digest when one is given. */}}
{{- define "elevator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "elevator.imageTag" .) }}
{{- end }}
{{- end }}

{{/* Labels that identify the release's pods; never change them, selectors are immutable. */}}
{{- define "elevator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "elevator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "elevator.labels" -}}
helm.sh/chart: {{ include "elevator.chart" . }}
{{ include "elevator.selectorLabels" . }}
app.kubernetes.io/version: {{ include "elevator.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: elevator
{{- end }}

{{/*
The server's pods, told apart from the migration Job's, so the Service, the
PodDisruptionBudget and the anti-affinity never count a migration pod as a replica.
*/}}
{{- define "elevator.serverSelectorLabels" -}}
{{ include "elevator.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{/* Labels of the server's resources. */}}
{{- define "elevator.serverLabels" -}}
{{ include "elevator.labels" . }}
app.kubernetes.io/component: server
{{- end }}

{{/* The ServiceAccount the server runs as. */}}
{{- define "elevator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "elevator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the database URL: the operator's, or the one the chart creates. */}}
{{- define "elevator.databaseSecretName" -}}
{{- if .Values.database.existingSecret }}
{{- .Values.database.existingSecret }}
{{- else if .Values.database.url }}
{{- printf "%s-database" (include "elevator.fullname" .) }}
{{- else }}
{{- fail "elevator: set database.existingSecret (a Secret holding the PostgreSQL URL) or database.url" }}
{{- end }}
{{- end }}

{{/*
Install-time checks, so a broken configuration fails `helm install` with a message instead of
a crash-looping pod. Renders nothing.
*/}}
{{- define "elevator.validate" -}}
{{- $_ := include "elevator.databaseSecretName" . }}
{{- if not (or .Values.auth.jwks.existingSecret .Values.auth.hs256.existingSecret) }}
{{- fail "elevator: set auth.jwks.existingSecret (RS256/ES256 keys) or auth.hs256.existingSecret, or the server accepts no token" }}
{{- end }}
{{- if not (kindIs "string" .Values.policy) }}
{{- fail "elevator: policy must be the policy document as text (policy: |, or --set-file policy=FILE)" }}
{{- else if not (trim .Values.policy) }}
{{- fail "elevator: policy is empty; the server needs a policy document" }}
{{- else if hasKey (fromYaml .Values.policy) "Error" }}
{{- fail (printf "elevator: policy is not valid YAML: %s" (get (fromYaml .Values.policy) "Error")) }}
{{- end }}
{{- if and .Values.tls.clientCA.existingSecret (not .Values.tls.existingSecret) }}
{{- fail "elevator: tls.clientCA.existingSecret needs tls.existingSecret (the server's certificate)" }}
{{- end }}
{{- if and .Values.tls.pepClientNames (not .Values.tls.clientCA.existingSecret) }}
{{- fail "elevator: tls.pepClientNames needs tls.clientCA.existingSecret, or no client certificate is ever verified" }}
{{- end }}
{{- if .Values.database.runtimeRole }}
{{- if not (and .Values.migration.enabled .Values.migration.database.existingSecret) }}
{{- fail "elevator: database.runtimeRole needs migration.enabled and migration.database.existingSecret (the schema owner's URL): the runtime role cannot migrate" }}
{{- end }}
{{- end }}
{{- if and .Values.otel.endpoint .Values.networkPolicy.enabled (not .Values.networkPolicy.egress.otlp.port) }}
{{- fail "elevator: otel.endpoint is set but networkPolicy.egress.otlp.port is empty, so the NetworkPolicy would block the export" }}
{{- end }}
{{- end }}

{{/* The server's database URL, from its Secret. */}}
{{- define "elevator.databaseEnv" -}}
- name: ELEVATOR_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "elevator.databaseSecretName" . }}
      key: {{ .Values.database.secretKey }}
{{- end }}

{{/*
The config map as ELEVATOR_<SECTION>_<KEY> variables, sorted by name. Null entries are left
out (the server's default applies). Variables the chart sets from its own values are refused,
so there is one place for each setting.
*/}}
{{- define "elevator.configEnv" -}}
{{- $reserved := list "ELEVATOR_LISTEN" "ELEVATOR_ADMIN_LISTEN" "ELEVATOR_DATABASE_URL" "ELEVATOR_DATABASE_RUNTIME_ROLE" "ELEVATOR_POLICY_FILE" "ELEVATOR_AUTH_JWKS_FILE" "ELEVATOR_AUTH_HS256_SECRET" "ELEVATOR_AUTH_HS256_SECRET_FILE" "ELEVATOR_AUTH_ISSUER" "ELEVATOR_AUTH_AUDIENCE" "ELEVATOR_CONFIG" "ELEVATOR_LOG_FORMAT" "ELEVATOR_TLS_CERT_FILE" "ELEVATOR_TLS_KEY_FILE" "ELEVATOR_TLS_CLIENT_CA_FILE" "ELEVATOR_TLS_PEP_CLIENT_NAMES" }}
{{- $env := dict }}
{{- range $section, $settings := .Values.config }}
{{- if kindIs "map" $settings }}
{{- range $key, $value := $settings }}
{{- $_ := set $env (printf "ELEVATOR_%s_%s" $section $key | upper) $value }}
{{- end }}
{{- else }}
{{- $_ := set $env (printf "ELEVATOR_%s" $section | upper) $settings }}
{{- end }}
{{- end }}
{{- range $name, $value := $env }}
{{- if has $name $reserved }}
{{- fail (printf "elevator: config sets %s, which the chart sets from its own values (see values.yaml)" $name) }}
{{- end }}
{{- if kindIs "map" $value }}
{{- fail (printf "elevator: config nests too deep at %s; use config.<section>.<key>" $name) }}
{{- end }}
{{- if not (kindIs "invalid" $value) }}
{{- /* Whole numbers arrive from YAML as floats; print them without an exponent. */}}
{{- $text := ternary ($value | int64 | toString) (toString $value) (kindIs "float64" $value) }}
- name: {{ $name }}
  value: {{ $text | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The migration Job's database URL: the schema owner's Secret when one is named, else the
server's; and the runtime role it grants privileges to.
*/}}
{{- define "elevator.migrationDatabaseEnv" -}}
{{- if .Values.migration.database.existingSecret }}
- name: ELEVATOR_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.migration.database.existingSecret }}
      key: {{ .Values.migration.database.secretKey }}
{{- else }}
{{- include "elevator.databaseEnv" . }}
{{- end }}
{{- with .Values.database.runtimeRole }}
- name: ELEVATOR_DATABASE_RUNTIME_ROLE
  value: {{ . | quote }}
{{- end }}
{{- end }}

{{/* TLS settings of the server, as variables pointing at the mounted Secrets. */}}
{{- define "elevator.tlsEnv" -}}
{{- if .Values.tls.existingSecret }}
- name: ELEVATOR_TLS_CERT_FILE
  value: /etc/elevator/tls/tls.crt
- name: ELEVATOR_TLS_KEY_FILE
  value: /etc/elevator/tls/tls.key
{{- end }}
{{- if .Values.tls.clientCA.existingSecret }}
- name: ELEVATOR_TLS_CLIENT_CA_FILE
  value: /etc/elevator/client-ca/ca.crt
{{- end }}
{{- with .Values.tls.pepClientNames }}
- name: ELEVATOR_TLS_PEP_CLIENT_NAMES
  value: {{ join "," . | quote }}
{{- end }}
{{- end }}

{{/*
A probe: gRPC health on the gRPC port in plaintext; with TLS, HTTPS on the admin port (kubelet
does not verify the certificate, and client certificates stay optional). The argument is a list:
the root context, the gRPC health service ("" for the process) and the matching HTTP path.
*/}}
{{- define "elevator.probe" -}}
{{- $root := index . 0 }}
{{- if $root.Values.tls.existingSecret }}
httpGet:
  path: {{ index . 2 }}
  port: admin
  scheme: HTTPS
{{- else }}
grpc:
  port: {{ $root.Values.containerPorts.grpc }}
  {{- with index . 1 }}
  service: {{ . }}
  {{- end }}
{{- end }}
{{- end }}
