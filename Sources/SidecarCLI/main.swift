import Sidecar
print(SidecarVersion.string)
