module github.com/firebreak-ir/firebreak/sdk

go 1.24
