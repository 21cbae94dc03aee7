// bench/run.sh's floor: prints one line, as `isolate --version` does, and exits.
System.Console.Out.Write("floor\n");
return 0;
