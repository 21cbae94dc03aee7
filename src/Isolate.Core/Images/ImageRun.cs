namespace Isolate.Images;

/// <summary>What `run IMAGE` takes from the store: the image's top layer (the container's
/// rootfs path, where the overlay goes), the layers below it (more lowers), and its config.</summary>
public sealed record ImageDefaults(string Reference, string TopLayer, IReadOnlyList<string> Lowers, ImageConfig Config);

/// <summary>`run`'s image: found in the store, or pulled (--pull missing, the default, pulls
/// one the store lacks; always pulls; never refuses a missing one).</summary>
public static class ImageRun
{
    /// <summary>The image `run` names, or null where its first operand is a command (see
    /// <see cref="ImageReference.LooksLikeImage"/>) or --rootfs is given.</summary>
    public static ImageDefaults? Resolve(string? rootfs, IReadOnlyList<string> command, string? storage, string? pull,
        RegistryOptions registry, Func<IProgress> progress)
    {
        string policy = pull ?? "missing";
        if (policy is not ("missing" or "always" or "never"))
            throw new IsolateException($"invalid --pull '{pull}': use missing, always or never");
        if (rootfs != null || command.Count == 0 || !ImageReference.LooksLikeImage(command[0]))
        {
            if (pull != null)
                throw new IsolateException("--pull applies to an image (isolate run [--pull POLICY] IMAGE [COMMAND]); the first operand here is a command"
                    + (rootfs != null ? " run on --rootfs" : ""));
            return null;
        }
        var reference = ImageReference.Parse(command[0]);
        var store = ImageStore.Open(storage);
        var image = policy == "always" ? null : store.Find(reference);
        if (image != null && image.LayerDirectories.Any(dir => !Directory.Exists(dir)))
            image = null; // a layer went missing (removed by hand): fetch it again
        if (image is null)
        {
            if (policy == "never")
                throw new IsolateException($"image {reference} is not in the store ({store.Root}) and --pull never forbids pulling it: isolate pull {reference}, or isolate load -i FILE");
            image = ImagePull.Pull(store, reference, registry, progress());
        }
        var layers = image.LayerDirectories;
        if (layers.Count == 0)
            throw new IsolateException($"image {reference} has no layers: nothing to run");
        // overlayfs takes its options in one page, lowerdir among them
        if (layers.Sum(l => l.Length + 1) > 3800)
            throw new IsolateException($"image {reference} has {layers.Count} layers, more than one overlay mount can name from {store.Root}; squash the image, or use a shorter --storage path");
        return new ImageDefaults(reference.ToString(), layers[^1], [.. layers.Reverse().Skip(1)], image.Config);
    }

    /// <summary>The command line: --entrypoint (which, as docker's, also drops the image's
    /// Cmd) or the image's Entrypoint, then the command given or the image's Cmd.</summary>
    public static List<string> Command(ImageDefaults image, string? entrypoint, IReadOnlyList<string> given)
    {
        var args = new List<string>();
        if (entrypoint != null)
        {
            if (entrypoint.Length > 0)
                args.Add(entrypoint);
        }
        else
        {
            args.AddRange(image.Config.Entrypoint);
        }
        args.AddRange(given.Count > 0 ? given : entrypoint != null ? [] : image.Config.Cmd);
        if (args.Count == 0)
            throw new IsolateException($"image {image.Reference} names no command (no Entrypoint or Cmd): give one, isolate run {image.Reference} COMMAND");
        return args;
    }
}
