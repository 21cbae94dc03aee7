using System.Globalization;
using System.Text.Json;
using Isolate.State;

namespace Isolate.Containers;

/// <summary>A recorded container as the OCI `state` shows it, and the listing both faces read.</summary>
public static class ContainerViews
{
    public static OciStateView View(ContainerState state, ContainerStatus status) => new()
    {
        OciVersion = state.OciVersion,
        Id = state.Id,
        Status = status.Oci(),
        Pid = status == ContainerStatus.Stopped ? 0 : state.Pid,
        Bundle = state.Bundle,
        Rootfs = state.Rootfs,
        Created = state.Created,
        Annotations = state.Annotations,
        Owner = state.Owner.ToString(CultureInfo.InvariantCulture),
    };

    public static string StateJson(ContainerState state, ContainerStatus status) =>
        JsonSerializer.Serialize(View(state, status), StateWriteJsonContext.Default.OciStateView);

    /// <summary>`state ID`: the OCI state as JSON.</summary>
    public static string State(StateStore store, string id)
    {
        using var held = store.Open(id);
        var state = store.Read(held);
        return StateJson(state, StateStore.Status(held, state));
    }

    public static string ListJson(List<OciStateView> views) => JsonSerializer.Serialize(views, StateWriteJsonContext.Default.ListOciStateView);

    /// <summary>Every container under the root with its status, never waiting for a lock: one
    /// held by a running create (or a hook of it) is read from its last state, or shown as
    /// creating (<paramref name="state"/> null then); one whose create died is stopped.</summary>
    public static List<(string Id, ContainerState? State, ContainerStatus Status)> List(StateStore store)
    {
        var rows = new List<(string, ContainerState?, ContainerStatus)>();
        foreach (string id in store.Ids())
        {
            string dir = store.DirectoryOf(id);
            using var held = ContainerLock.Take(dir, id, wait: false, out bool busy);
            if (busy)
            {
                var current = StateStore.ReadUnlocked(dir);
                rows.Add(current is null || current.Pid <= 0
                    ? (id, current, ContainerStatus.Creating)
                    : (id, current, StateStore.Status(dir, current)));
            }
            if (held is null)
                continue;
            try
            {
                var state = store.TryRead(held);
                rows.Add((id, state, state is null ? ContainerStatus.Stopped : StateStore.Status(held, state)));
            }
            catch (IsolateException)
            {
            }
        }
        return rows;
    }

    /// <summary>The OCI `list`: a create that is still running shows as creating, one that died as stopped.</summary>
    public static List<OciStateView> OciList(StateStore store) =>
        List(store).Select(row => row.State is { } state && row.Status != ContainerStatus.Creating
            ? View(state, row.Status)
            : new OciStateView { OciVersion = "1.2.0", Id = row.Id, Status = row.Status.Oci(), Bundle = row.State?.Bundle ?? "" }).ToList();
}
