namespace Isolate.State;

/// <summary>A container's status, as the OCI runtime spec names them (plus "creating": a
/// create still running, seen by listings that do not wait for it).</summary>
public enum ContainerStatus
{
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

/// <summary>Which face made a container, and so which commands act on it.</summary>
public enum ContainerKind
{
    /// <summary>From an OCI bundle (create, or OCI run): kill and delete end it.</summary>
    Oci,
    /// <summary>docker's `run -d`: a monitor holds it; stop and rm end it.</summary>
    Detached,
}

public static class ContainerStatusNames
{
    /// <summary>The OCI word: "created", "running", ...</summary>
    public static string Oci(this ContainerStatus status) => status switch
    {
        ContainerStatus.Creating => "creating",
        ContainerStatus.Created => "created",
        ContainerStatus.Running => "running",
        ContainerStatus.Paused => "paused",
        _ => "stopped",
    };
}
