{{/*
The extender container, shared by the sidecar (in the scheduler pod) and the service-mode
Deployment. Its probes use HTTP when the port is reachable from the kubelet, else a loopback
request from inside the container (a sidecar on 127.0.0.1).
*/}}
{{- define "suanli.extender.container" -}}
{{- $e := .Values.extender -}}
{{- $host := include "suanli.extender.host" . -}}
{{- $service := eq $e.mode "service" -}}
{{- $tls := (eq (include "suanli.extender.tls" .) "true") -}}
{{- $scheme := ternary "HTTPS" "HTTP" $tls -}}
- name: extender
  image: {{ include "suanli.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    - extender
    - --host={{ $host }}
    - --port={{ $e.port }}
    - --catalog=/etc/suanli/catalog/catalog.yaml
    - --latency=/etc/suanli/catalog/latency.yaml
    - --data-policy=/etc/suanli/catalog/data-policy.yaml
    - --filter-top-k={{ $e.filterTopK }}
    - --scheduler-http-timeout={{ $e.httpTimeout }}
    - --log-level={{ $e.logLevel }}
    {{- if $service }}
    - --leader-elect
    - --lease-namespace=$(POD_NAMESPACE)
    - --lease-name={{ include "suanli.fullname" . }}-extender
    - --advertise-url={{ ternary "https" "http" $tls }}://$(POD_IP):{{ $e.port }}
    {{- end }}
    {{- if $tls }}
    - --tls-cert-file=/etc/suanli/tls/tls.crt
    - --tls-key-file=/etc/suanli/tls/tls.key
    - --tls-client-ca-file=/etc/suanli/tls/ca.crt
    {{- if $service }}
    - --peer-cert-file=/etc/suanli/client-tls/tls.crt
    - --peer-key-file=/etc/suanli/client-tls/tls.key
    - --peer-server-name={{ include "suanli.extender.serverName" . }}
    {{- end }}
    {{- end }}
    {{- range $e.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  {{- if or $service $e.extraEnv }}
  env:
    {{- if $service }}
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    - name: POD_NAMESPACE
      valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
    {{- end }}
    {{- with $e.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
  ports:
    - name: extender
      containerPort: {{ $e.port }}
      protocol: TCP
  {{- if include "suanli.extender.reachable" . }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: extender
      scheme: {{ $scheme }}
    initialDelaySeconds: 10
    periodSeconds: 20
    timeoutSeconds: 5
  readinessProbe:
    httpGet:
      path: /readyz
      port: extender
      scheme: {{ $scheme }}
    periodSeconds: 10
    timeoutSeconds: 5
  {{- else }}
  livenessProbe:
    exec:
      command: [python, -c, "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{{ $e.port }}/healthz', timeout=4)"]
    initialDelaySeconds: 10
    periodSeconds: 20
    timeoutSeconds: 5
  readinessProbe:
    exec:
      command: [python, -c, "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{{ $e.port }}/readyz', timeout=4)"]
    periodSeconds: 10
    timeoutSeconds: 5
  {{- end }}
  resources:
    {{- toYaml $e.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.containerSecurityContext | nindent 4 }}
  volumeMounts:
    - name: catalog
      mountPath: /etc/suanli/catalog
      readOnly: true
    - name: tmp
      mountPath: /tmp
    {{- if $tls }}
    - name: extender-tls
      mountPath: /etc/suanli/tls
      readOnly: true
    {{- if $service }}
    - name: extender-client-tls
      mountPath: /etc/suanli/client-tls
      readOnly: true
    {{- end }}
    {{- end }}
{{- end -}}
