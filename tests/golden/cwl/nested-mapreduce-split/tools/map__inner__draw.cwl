cwlVersion: v1.2
id: draw_tool
class: CommandLineTool
label: step of stage 'draw'
inputs:
- id: sample
  type: string
- id: rep
  type: int
outputs:
- id: drawfile
  type:
  - 'null'
  - File
  - Directory
  outputBinding:
    glob: draw.txt
- id: workdir
  type: Directory
  outputBinding:
    glob: $(runtime.outdir)
hints:
- class: DockerRequirement
  dockerPull: busybox:latest
baseCommand:
- sh
- -c
arguments:
- valueFrom: seq $(inputs.rep) | awk '{ print "$(inputs.sample)-" $1 }' > $(runtime.outdir)/draw.txt
